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
    start_with(stride_profile::NotifyConfig::default()).await
}

/// profile with these reminder settings.
pub async fn start_with(notify: stride_profile::NotifyConfig) -> (Harness, Probe) {
    start_configured(notify, stride_profile::ExportSettings::local()).await
}

/// profile with these reminder and export settings.
pub async fn start_configured(
    notify: stride_profile::NotifyConfig,
    export: stride_profile::ExportSettings,
) -> (Harness, Probe) {
    let h = Harness::start(
        stride_profile::SERVICE,
        NOW,
        move |common, verifier, clock| {
            let config = stride_profile::Config {
                common,
                notify,
                export,
            };
            stride_profile::start(config, verifier, clock)
        },
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

/// A user with a profile in zone `tz` (registered through auth's event, as in production).
pub async fn registered(h: &Harness, name: &str, tz: &str) -> Uuid {
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
