//! SendCode and SignInWithCode: passwordless one-time codes by email and SMS.

use stride_kit::Clock as _;
use stride_proto::auth as pb;
use stride_testkit::{
    EVENT_DEADLINE,
    bus::{assert_invalid, reason},
};
use tonic::Code;

use crate::support::{code_in, signup, start};

fn send(channel: pb::CodeChannel, address: &str) -> pb::SendCodeRequest {
    pb::SendCodeRequest {
        channel: channel.into(),
        address: address.into(),
        purpose: pb::CodePurpose::SignIn.into(),
    }
}

fn sign_in(channel: pb::CodeChannel, address: &str, code: &str) -> pb::SignInWithCodeRequest {
    pb::SignInWithCodeRequest {
        channel: channel.into(),
        address: address.into(),
        code: code.into(),
        timezone: String::new(),
    }
}

/// A code that is surely not `code`.
fn other(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn an_email_code_signs_in_creating_the_account_once() {
    let mut h = start().await;
    use pb::CodeChannel::Email;
    let sent = h
        .client
        .send_code(send(Email, " Yan@Example.com "))
        .await
        .unwrap()
        .into_inner();
    let expires = stride_kit::convert::from_timestamp(sent.expire_time.as_ref().unwrap()).unwrap();
    let ttl = (expires - h.clock.now()).whole_seconds();
    assert!((599..=600).contains(&ttl), "{ttl}");
    let mail = h
        .sink
        .wait_for_mail("yan@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    let code = code_in(&mail.text);
    assert!(code.bytes().all(|b| b.is_ascii_digit()) && code.len() == 6);
    let first = h
        .client
        .sign_in_with_code(sign_in(Email, "yan@example.com", &code))
        .await
        .unwrap()
        .into_inner();
    assert!(first.created);
    let user = first.user.unwrap();
    assert_eq!(user.email, "yan@example.com");
    assert!(user.email_verified, "the code proved the address");
    // Single use.
    let again = h
        .client
        .sign_in_with_code(sign_in(Email, "yan@example.com", &code))
        .await
        .unwrap_err();
    assert_eq!(reason(&again), "CODE_INVALID");
    // A second code signs in to the same account.
    h.client
        .send_code(send(Email, "yan@example.com"))
        .await
        .unwrap();
    let mail2 = h
        .sink
        .wait_for_mail_after("yan@example.com", mail.id, EVENT_DEADLINE)
        .await
        .unwrap();
    let second = h
        .client
        .sign_in_with_code(sign_in(Email, "yan@example.com", &code_in(&mail2.text)))
        .await
        .unwrap()
        .into_inner();
    assert!(!second.created);
    assert_eq!(second.user.unwrap().id, user.id);
    h.stop().await;
}

#[tokio::test]
async fn sms_codes_expire_after_ten_minutes_and_a_new_one_kills_the_old() {
    let mut h = start().await;
    use pb::CodeChannel::Sms;
    let phone = "+4915112345678";
    h.client
        .send_code(send(Sms, "+49 151 1234-5678"))
        .await
        .unwrap();
    let s1 = h.sink.wait_for_sms(phone, EVENT_DEADLINE).await.unwrap();
    h.client.send_code(send(Sms, phone)).await.unwrap();
    let s2 = h
        .sink
        .wait_for_sms_after(phone, s1.id, EVENT_DEADLINE)
        .await
        .unwrap();
    let (c1, c2) = (code_in(&s1.text), code_in(&s2.text));
    if c1 != c2 {
        let old = h
            .client
            .sign_in_with_code(sign_in(Sms, phone, &c1))
            .await
            .unwrap_err();
        assert_eq!(reason(&old), "CODE_INVALID", "the old code died");
    }
    h.clock
        .advance(time::Duration::minutes(10) + time::Duration::seconds(1));
    let late = h
        .client
        .sign_in_with_code(sign_in(Sms, phone, &c2))
        .await
        .unwrap_err();
    assert_eq!(reason(&late), "CODE_INVALID", "expired");
    // A fresh one works and creates a phone account.
    h.client.send_code(send(Sms, phone)).await.unwrap();
    let s3 = h
        .sink
        .wait_for_sms_after(phone, s2.id, EVENT_DEADLINE)
        .await
        .unwrap();
    let done = h
        .client
        .sign_in_with_code(sign_in(Sms, phone, &code_in(&s3.text)))
        .await
        .unwrap()
        .into_inner();
    assert!(done.created);
    assert_eq!(done.user.unwrap().phone, phone);
    h.stop().await;
}

#[tokio::test]
async fn five_wrong_guesses_kill_a_code() {
    let mut h = start().await;
    use pb::CodeChannel::Email;
    h.client
        .send_code(send(Email, "zoe@example.com"))
        .await
        .unwrap();
    let mail = h
        .sink
        .wait_for_mail("zoe@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    let code = code_in(&mail.text);
    for _ in 0..5 {
        let e = h
            .client
            .sign_in_with_code(sign_in(Email, "zoe@example.com", &other(&code)))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
    }
    let e = h
        .client
        .sign_in_with_code(sign_in(Email, "zoe@example.com", &code))
        .await
        .unwrap_err();
    assert_eq!(
        reason(&e),
        "CODE_INVALID",
        "the right code after five misses is dead"
    );
    h.stop().await;
}

#[tokio::test]
async fn at_most_three_sends_per_hour_per_address_answering_the_same_for_any_address() {
    let mut h = start().await;
    use pb::CodeChannel::Email;
    signup(&h, "abe@example.com", "abe").await;
    // A known and an unknown address get identical answers all the way.
    for address in ["abe@example.com", "unknown@example.com"] {
        for _ in 0..3 {
            h.client.send_code(send(Email, address)).await.unwrap();
        }
        let e = h.client.send_code(send(Email, address)).await.unwrap_err();
        assert_eq!(e.code(), Code::ResourceExhausted);
        assert_eq!(reason(&e), "TOO_MANY_ATTEMPTS");
    }
    h.clock.advance(time::Duration::minutes(61));
    h.client
        .send_code(send(Email, "abe@example.com"))
        .await
        .expect("an hour later");
    // Bad input is told apart (it reveals nothing about accounts).
    let e = h
        .client
        .send_code(send(pb::CodeChannel::Sms, "12345"))
        .await
        .unwrap_err();
    assert_invalid(&e, &["address"]);
    let e = h
        .client
        .send_code(pb::SendCodeRequest {
            channel: pb::CodeChannel::Email.into(),
            address: "x@example.com".into(),
            purpose: 0,
        })
        .await
        .unwrap_err();
    assert_invalid(&e, &["purpose"]);
    // Account-bound purposes need a token.
    let e = h
        .client
        .send_code(pb::SendCodeRequest {
            channel: pb::CodeChannel::Email.into(),
            address: "x@example.com".into(),
            purpose: pb::CodePurpose::Reauthenticate.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    h.stop().await;
}
