//! The profile harness and what profile's tests share.

use stride_proto::{
    Event as _, events, profile as pb, profile::profile_service_client::ProfileServiceClient,
};
use stride_testkit::{EVENT_DEADLINE, ServiceHarness, authed, bus::Probe, eventually};
use time::OffsetDateTime;
use tonic::transport::Channel;
use uuid::Uuid;

pub type Harness = ServiceHarness<ProfileServiceClient<Channel>>;

pub const NOW: OffsetDateTime = time::macros::datetime!(2026-11-22 10:00 UTC);

/// profile, started and ready, with a probe standing in for profile's consumers.
pub async fn start() -> (Harness, Probe) {
    let (h, probe, dir) = start_with_avatars().await;
    // Kept: the service uses it until the test ends.
    let _ = dir.keep();
    (h, probe)
}

/// profile with its avatar directory (to look at the files it keeps).
pub async fn start_with_avatars() -> (Harness, Probe, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let avatars = dir.path().to_path_buf();
    let (h, probe) = start_with(move |common| stride_profile::Config::new(common, avatars)).await;
    (h, probe, dir)
}

/// profile with the configuration `config` makes of the test's common settings.
pub async fn start_with(
    config: impl FnOnce(stride_kit::config::CommonConfig) -> stride_profile::Config,
) -> (Harness, Probe) {
    let h = Harness::start(
        stride_profile::SERVICE,
        NOW,
        move |common, verifier, clock| stride_profile::start(config(common), verifier, clock),
        ProfileServiceClient::new,
    )
    .await;
    let probe = Probe::bind(&h.amqp, events::ProfileUpdated::TYPE).await;
    (h, probe)
}

/// The next `profile.updated.v1`, checked to come from profile.
pub async fn next_update(probe: &mut Probe) -> events::ProfileUpdated {
    let (_, kind, producer, ev) = probe.next::<events::ProfileUpdated>().await;
    assert_eq!(
        (kind.as_str(), producer.as_str()),
        (events::ProfileUpdated::TYPE, "profile")
    );
    ev
}

pub async fn get(h: &Harness, user: Uuid) -> Result<pb::Profile, tonic::Status> {
    h.client
        .clone()
        .get_my_profile(authed(pb::GetMyProfileRequest {}, &h.token(user)))
        .await
        .map(|r| r.into_inner().profile.expect("profile"))
}

/// Waits for the profile of `user` to exist and returns it.
pub async fn profile_exists(h: &Harness, user: Uuid) -> pb::Profile {
    eventually(EVENT_DEADLINE, "the profile appears", || async {
        get(h, user).await.ok()
    })
    .await
}

pub fn update(paths: &[&str], profile: pb::Profile) -> pb::UpdateMyProfileRequest {
    pb::UpdateMyProfileRequest {
        profile: Some(profile),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
    }
}

/// Gives `user` a profile the way sign-up does (username `name`, zone UTC) and waits for it.
pub async fn registered(
    h: &Harness,
    auth: &stride_testkit::bus::Publisher,
    user: Uuid,
    name: &str,
) {
    auth.publish(&stride_testkit::fixtures::user_registered(
        user, name, "UTC", NOW,
    ))
    .await;
    profile_exists(h, user).await;
}

/// A PNG of `w`×`h` pixels.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb([30, 120, 200]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

/// The files in the avatar directory (temporary files included).
pub fn files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("avatar dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A user with a profile in zone `tz` (registered through auth's event, as in production).
pub async fn user_in(h: &Harness, name: &str, tz: &str) -> Uuid {
    let user = Uuid::now_v7();
    let auth = stride_testkit::bus::Publisher::start(&h.amqp, "auth").await;
    let id = auth
        .publish(&stride_testkit::fixtures::user_registered(
            user, name, tz, NOW,
        ))
        .await;
    h.consumed(id).await;
    user
}

pub fn notifications(
    h: &Harness,
) -> stride_proto::profile::notification_service_client::NotificationServiceClient<Channel> {
    stride_proto::profile::notification_service_client::NotificationServiceClient::new(
        h.channel.clone(),
    )
}

pub fn reminders(
    h: &Harness,
) -> stride_proto::profile::reminder_service_client::ReminderServiceClient<Channel> {
    stride_proto::profile::reminder_service_client::ReminderServiceClient::new(h.channel.clone())
}

/// profile with these reminder and export settings (and a private avatar directory).
pub async fn start_configured(
    notify: stride_profile::NotifyConfig,
    export: stride_profile::ExportSettings,
) -> (Harness, Probe) {
    let dir = tempfile::tempdir().expect("temp dir");
    let avatars = dir.keep();
    start_with(move |common| stride_profile::Config {
        notify,
        export,
        ..stride_profile::Config::new(common, avatars)
    })
    .await
}

/// profile with these reminder settings.
pub async fn start_notify(notify: stride_profile::NotifyConfig) -> (Harness, Probe) {
    start_configured(notify, stride_profile::ExportSettings::local()).await
}
