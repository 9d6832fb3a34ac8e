//! Profile through the gateway: onboarding step by step, an avatar upload near the 2 MiB limit
//! (the gateway's message limit must let it through), the avatar read back from its URL, and
//! another user's public card.

use stride_e2e::Mesh;
use stride_proto::{
    auth::SignupRequest,
    profile::{
        Body, CompleteOnboardingRequest, GetMyProfileRequest, GetPublicProfileRequest,
        OnboardingStep, Privacy, Profile, ProfileVisibility, SaveOnboardingStepRequest,
        UploadMyAvatarRequest, Weight, WeightUnit,
    },
};
use stride_testkit::{EVENT_DEADLINE, authed, eventually};
use tonic::Code;

/// A PNG of noise (incompressible): about `side`² × 3 bytes.
fn noisy_png(side: u32) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let img = image::RgbImage::from_fn(side, side, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let [a, b, c, ..] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn onboarding_and_avatar_over_grpc_web() {
    stride_kit::telemetry::init_for_tests();
    let mesh = Mesh::start(&crate::shared_stores().await)
        .await
        .expect("mesh starts");
    let mut c = stride_e2e::grpc_web_clients(mesh.gateway).expect("client");
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let mut users = Vec::new();
    for name in ["olga", "pete"] {
        let name = format!("{name}{}", &suffix[20..]);
        let res = c
            .auth
            .signup(SignupRequest {
                email: format!("{name}@example.com"),
                username: name.clone(),
                password: "correct horse battery".into(),
                timezone: "Europe/Paris".into(),
            })
            .await
            .expect("signup")
            .into_inner();
        users.push((
            res.user.expect("user").id,
            res.tokens.expect("tokens").access_token,
        ));
    }
    let (olga, tok) = users[0].clone();
    let (_, pete_tok) = users[1].clone();
    eventually(EVENT_DEADLINE, "olga's profile exists", || {
        let mut p = c.profile.clone();
        let tok = tok.clone();
        async move {
            p.get_my_profile(authed(GetMyProfileRequest {}, &tok))
                .await
                .ok()
        }
    })
    .await;

    // Onboarding, one step at a time.
    let step = c
        .profile
        .save_onboarding_step(authed(
            SaveOnboardingStepRequest {
                step: OnboardingStep::Body as i32,
                profile: Some(Profile {
                    body: Some(Body {
                        weight: Some(Weight {
                            value: 150.0,
                            unit: WeightUnit::Lb as i32,
                        }),
                        limitations: vec!["lower back".into()],
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            },
            &tok,
        ))
        .await
        .expect("body step")
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(step.onboarding_steps, [OnboardingStep::Body as i32]);
    c.profile
        .save_onboarding_step(authed(
            SaveOnboardingStepRequest {
                step: OnboardingStep::Privacy as i32,
                profile: Some(Profile {
                    privacy: Some(Privacy {
                        visibility: ProfileVisibility::Public as i32,
                        show_on_leaderboards: true,
                    }),
                    ..Default::default()
                }),
            },
            &tok,
        ))
        .await
        .expect("privacy step");
    let bad = c
        .profile
        .save_onboarding_step(authed(
            SaveOnboardingStepRequest {
                step: OnboardingStep::Basics as i32,
                profile: Some(Profile {
                    display_name: "Olga".into(),
                    timezone: "Europe/Pariss".into(),
                    locale: "en".into(),
                    ..Default::default()
                }),
            },
            &tok,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);

    // An avatar close to the 2 MiB limit passes the gateway and is stored as a thumbnail.
    let big = noisy_png(820);
    assert!(
        big.len() > 1_900_000 && big.len() <= 2 * 1024 * 1024,
        "{}",
        big.len()
    );
    let p = c
        .profile
        .upload_my_avatar(authed(UploadMyAvatarRequest { content: big }, &tok))
        .await
        .expect("upload through the gateway")
        .into_inner()
        .profile
        .unwrap();
    let r = reqwest::get(&p.avatar_url).await.expect("GET avatar URL");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let img = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (256, 256));

    let done = c
        .profile
        .complete_onboarding(authed(CompleteOnboardingRequest {}, &tok))
        .await
        .expect("complete")
        .into_inner()
        .profile
        .unwrap();
    assert!(done.onboarding_completed);
    assert_eq!(done.avatar_url, p.avatar_url);

    // Olga is public: Pete sees her card, with the same avatar URL.
    let card = c
        .profile
        .get_public_profile(authed(
            GetPublicProfileRequest {
                user_id: olga.clone(),
            },
            &pete_tok,
        ))
        .await
        .expect("card")
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(card.avatar_url, p.avatar_url);
    mesh.stop().await.expect("graceful stop");
}
