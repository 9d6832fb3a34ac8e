//! SMS through Twilio: auth configured with `AUTH_TWILIO_*` sends its codes with the production
//! client to a stand-in speaking Twilio's Messages API; SMS codes live 5 minutes (seed 004),
//! mailed codes 10.

use stride_kit::Clock as _;
use stride_notify::TwilioConfig;
use stride_proto::auth as pb;
use stride_testkit::{
    EVENT_DEADLINE,
    bus::reason,
    eventually,
    twilio::{ACCOUNT_SID, AUTH_TOKEN, FROM, SentMessage, Twilio},
};
use tonic::Code;

use crate::support::{Auth, code_in, start_with};

const PHONE: &str = "+4915112345678";

async fn auth_with_twilio(t: &Twilio) -> Auth {
    let base_url = t.base_url.clone();
    start_with(|s| {
        s.twilio = Some(TwilioConfig {
            account_sid: ACCOUNT_SID.into(),
            auth_token: AUTH_TOKEN.into(),
            from: FROM.into(),
            base_url,
        });
    })
    .await
}

fn send(channel: pb::CodeChannel, address: &str) -> pb::SendCodeRequest {
    pb::SendCodeRequest {
        channel: channel.into(),
        address: address.into(),
        purpose: pb::CodePurpose::SignIn.into(),
    }
}

fn sign_in(address: &str, code: &str) -> pb::SignInWithCodeRequest {
    pb::SignInWithCodeRequest {
        channel: pb::CodeChannel::Sms.into(),
        address: address.into(),
        code: code.into(),
        timezone: String::new(),
    }
}

/// The `n`-th message (from 1) Twilio accepted, once it has arrived.
async fn nth_message(t: &Twilio, n: usize) -> SentMessage {
    eventually(EVENT_DEADLINE, &format!("Twilio message #{n}"), || {
        let found = t.messages().get(n - 1).cloned();
        async move { found }
    })
    .await
}

#[tokio::test]
async fn sms_codes_go_through_twilio_and_live_five_minutes() {
    let t = Twilio::start().await;
    let mut h = auth_with_twilio(&t).await;
    let sent_at = h.clock.now().unix_timestamp();
    let answer = h
        .client
        .send_code(send(pb::CodeChannel::Sms, PHONE))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.expire_time.unwrap().seconds, sent_at + 5 * 60);
    let first = nth_message(&t, 1).await;
    assert_eq!((first.to.as_str(), first.from.as_str()), (PHONE, FROM));
    assert!(
        first.body.contains("expires in 5 minutes"),
        "{}",
        first.body
    );
    assert!(h.sink.all_sms().is_empty(), "Twilio replaces AUTH_SMS_URL");

    // Five minutes and a second later the code is dead.
    h.clock
        .advance(time::Duration::minutes(5) + time::Duration::seconds(1));
    let late = h
        .client
        .sign_in_with_code(sign_in(PHONE, &code_in(&first.body)))
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::Unauthenticated);
    assert_eq!(reason(&late), "CODE_INVALID");

    // A new one, used just inside its five minutes, signs in (and creates the account).
    h.client
        .send_code(send(pb::CodeChannel::Sms, PHONE))
        .await
        .unwrap();
    let second = nth_message(&t, 2).await;
    h.clock
        .advance(time::Duration::minutes(5) - time::Duration::seconds(1));
    let done = h
        .client
        .sign_in_with_code(sign_in(PHONE, &code_in(&second.body)))
        .await
        .unwrap()
        .into_inner();
    assert!(done.created);
    assert_eq!(done.user.unwrap().phone, PHONE);

    // Mailed codes keep their 10 minutes.
    let now = h.clock.now().unix_timestamp();
    let mail = h
        .client
        .send_code(send(pb::CodeChannel::Email, "ann@example.com"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mail.expire_time.unwrap().seconds, now + 10 * 60);
    h.stop().await;
}

#[tokio::test]
async fn a_twilio_error_reply_does_not_change_the_answer() {
    let t = Twilio::start().await;
    t.refuse(
        PHONE,
        400,
        21211,
        "Invalid 'To' Phone Number: +4915112345678",
    );
    let h = auth_with_twilio(&t).await;
    // The answer is the same as for a delivered code (it never waits on delivery, so it reveals
    // nothing about the address); Twilio was asked and refused.
    h.client
        .clone()
        .send_code(send(pb::CodeChannel::Sms, PHONE))
        .await
        .unwrap();
    eventually(EVENT_DEADLINE, "Twilio asked once", || {
        let asked = (t.requests() == 1).then_some(());
        async move { asked }
    })
    .await;
    assert!(t.messages().is_empty());
    h.stop().await;
}
