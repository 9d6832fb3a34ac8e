//! The production Twilio client against a stand-in speaking Twilio's Messages API
//! (`stride_testkit::twilio`): basic auth, the form fields, the 201 message resource, and
//! Twilio's error objects coming back as `TwilioError`.

use stride_notify::{Sms, SmsSender, TwilioConfig, TwilioError, TwilioSms};
use stride_testkit::twilio::{ACCOUNT_SID, AUTH_TOKEN, FROM, SentMessage, Twilio};

fn client(t: &Twilio, tune: impl FnOnce(&mut TwilioConfig)) -> TwilioSms {
    let mut config = TwilioConfig {
        account_sid: ACCOUNT_SID.into(),
        auth_token: AUTH_TOKEN.into(),
        from: FROM.into(),
        base_url: t.base_url.clone(),
    };
    tune(&mut config);
    TwilioSms::new(config).unwrap()
}

fn sms(to: &str, text: &str) -> Sms {
    Sms {
        to: to.into(),
        text: text.into(),
    }
}

fn twilio_error(e: anyhow::Error) -> TwilioError {
    e.downcast::<TwilioError>()
        .unwrap_or_else(|e| panic!("not a Twilio error: {e:#}"))
}

#[tokio::test]
async fn a_message_reaches_twilio_with_its_fields() {
    let t = Twilio::start().await;
    let sender = client(&t, |_| {});
    sender
        .send(sms(
            "+4915112345678",
            "Stride-Code 123456 — gültig 5 min & mehr",
        ))
        .await
        .unwrap();
    assert_eq!(
        t.messages(),
        [SentMessage {
            to: "+4915112345678".into(),
            from: FROM.into(),
            body: "Stride-Code 123456 — gültig 5 min & mehr".into(),
        }]
    );

    // A Messaging Service id goes as MessagingServiceSid.
    let service = client(&t, |c| c.from = "MG11111111111111111111111111111111".into());
    service.send(sms("+15550100", "hi")).await.unwrap();
    assert_eq!(t.messages()[1].from, "MG11111111111111111111111111111111");
}

#[tokio::test]
async fn twilio_error_replies_come_back_with_their_code() {
    let t = Twilio::start().await;
    t.refuse(
        "+15005550001",
        400,
        21211,
        "Invalid 'To' Phone Number: +15005550001",
    );
    let e = twilio_error(
        client(&t, |_| {})
            .send(sms("+15005550001", "code"))
            .await
            .unwrap_err(),
    );
    assert_eq!((e.status, e.code), (400, Some(21211)));
    assert!(e.message.contains("Invalid 'To' Phone Number"), "{e}");

    // Wrong credentials: 401 / 20003, and the token is not in the error.
    let e = twilio_error(
        client(&t, |c| c.auth_token = "wrong".into())
            .send(sms("+15550100", "code"))
            .await
            .unwrap_err(),
    );
    assert_eq!((e.status, e.code), (401, Some(20003)));
    assert!(!e.to_string().contains("wrong"));
    assert!(t.messages().is_empty());
    assert_eq!(t.requests(), 2);
}

#[tokio::test]
async fn an_unreachable_twilio_is_an_error_not_a_hang() {
    let t = Twilio::start().await;
    let base = t.base_url.clone();
    drop(t);
    let sender = TwilioSms::new(TwilioConfig {
        account_sid: ACCOUNT_SID.into(),
        auth_token: AUTH_TOKEN.into(),
        from: FROM.into(),
        base_url: base,
    })
    .unwrap();
    let e = sender.send(sms("+15550100", "code")).await.unwrap_err();
    assert!(!format!("{e:#}").contains(AUTH_TOKEN), "{e:#}");
}
