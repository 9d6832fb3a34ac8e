//! DataExportService: an export of profile's own data (no upstreams configured) runs to the
//! end with its progress, downloads with its token or the owner's access token and nothing
//! else, holds the user's rows and nobody else's, and is swept after its time to live leaving
//! no file behind; a deleted user's archive goes too.

use std::{io::Read as _, time::Duration};

use stride_proto::profile::{self as pb, data_export_service_client::DataExportServiceClient};
use stride_testkit::{EVENT_DEADLINE, authed, bus::assert_invalid, eventually, fixtures};
use tonic::Code;
use uuid::Uuid;

use crate::support::{Harness, NOW, notifications, start_configured, user_in};

fn exports(h: &Harness) -> DataExportServiceClient<tonic::transport::Channel> {
    DataExportServiceClient::new(h.channel.clone())
}

async fn finished(h: &Harness, user: Uuid, id: &str) -> pb::DataExport {
    let token = h.token(user);
    let id = id.to_owned();
    eventually(EVENT_DEADLINE, "the export finishes", || {
        let (mut c, token, id) = (exports(h), token.clone(), id.clone());
        async move {
            let e = c
                .get_data_export(authed(pb::GetDataExportRequest { export_id: id }, &token))
                .await
                .ok()?
                .into_inner()
                .export?;
            (e.state != pb::DataExportState::Running as i32).then_some(e)
        }
    })
    .await
}

/// The archive's files: path → contents.
fn files(bytes: &[u8]) -> Vec<(String, String)> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    tar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            (path, s)
        })
        .collect()
}

async fn download(url: &str, token: Option<&str>, bearer: Option<&str>) -> (u16, Vec<u8>) {
    let mut req = reqwest::Client::new().get(match token {
        Some(t) => format!("{url}?token={t}"),
        None => url.to_owned(),
    });
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn an_export_downloads_with_its_token_holds_only_the_users_data_and_expires() {
    let mut settings = stride_profile::ExportSettings::local();
    settings.sweep_every = Duration::from_millis(50);
    settings.ttl = time::Duration::hours(2);
    let dir = settings.dir.clone();
    let (h, _probe) = start_configured(stride_profile::NotifyConfig::default(), settings).await;
    let base = format!("http://{}", h.running.http_addr);
    let ann = user_in(&h, "ann", "Europe/Paris").await;
    let bob = user_in(&h, "bob", "Asia/Tokyo").await;
    for u in [ann, bob] {
        notifications(&h)
            .register_device(authed(
                pb::RegisterDeviceRequest {
                    token: format!("push-{u}"),
                    platform: pb::DevicePlatform::Web.into(),
                    display_name: "browser".into(),
                },
                &h.token(u),
            ))
            .await
            .unwrap();
    }
    let (ta, tb) = (h.token(ann), h.token(bob));
    let res = exports(&h)
        .request_data_export(authed(pb::RequestDataExportRequest {}, &ta))
        .await
        .unwrap()
        .into_inner();
    let started = res.export.unwrap();
    assert_eq!(
        started.parts.len(),
        1,
        "profile only: no upstreams configured"
    );
    assert!(res.download_token.len() >= 43);
    let done = finished(&h, ann, &started.export_id).await;
    assert_eq!(done.state, pb::DataExportState::Succeeded as i32);
    assert_eq!(done.parts[0].service, "profile");
    assert_eq!(
        done.parts[0].state,
        pb::DataExportPartState::Succeeded as i32
    );
    // profile, email, device, the export itself.
    assert!(done.parts[0].item_count >= 4, "{done:?}");
    let url = done.download_url.clone();
    assert!(url.starts_with(&base), "{url}");
    assert!(done.download_url.ends_with("/archive"));

    // Bob cannot see Ann's export; a bad id is named.
    let err = exports(&h)
        .get_data_export(authed(
            pb::GetDataExportRequest {
                export_id: started.export_id.clone(),
            },
            &tb,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = exports(&h)
        .get_data_export(authed(
            pb::GetDataExportRequest {
                export_id: "x".into(),
            },
            &ta,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["export_id"]);

    // The token or Ann's access token download it; nothing else does.
    let (status, bytes) = download(&url, Some(&res.download_token), None).await;
    assert_eq!(status, 200);
    let (status, again) = download(&url, None, Some(&ta)).await;
    assert_eq!((status, &again), (200, &bytes));
    assert_eq!(download(&url, None, Some(&tb)).await.0, 404);
    assert_eq!(download(&url, Some("wrong-token"), None).await.0, 404);
    assert_eq!(download(&url, None, None).await.0, 401);
    assert_eq!(download(&url, None, Some("junk")).await.0, 401);

    let files = files(&bytes);
    let root = format!("stride-export-{}", started.export_id);
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        names.contains(&format!("{root}/manifest.json").as_str()),
        "{names:?}"
    );
    let find = |name: &str| {
        files
            .iter()
            .find(|(p, _)| p == &format!("{root}/profile/{name}.jsonl"))
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("{name} in {names:?}"))
    };
    let profile: serde_json::Value = serde_json::from_str(find("profile").trim()).unwrap();
    assert_eq!(profile["user_id"], ann.to_string());
    assert_eq!(profile["timezone"], "Europe/Paris");
    let device: serde_json::Value = serde_json::from_str(find("devices").trim()).unwrap();
    assert_eq!(device["display_name"], "browser");
    assert!(device.get("token").is_none(), "push tokens stay out");
    assert!(find("notification_email").contains("ann@example.com"));
    let everything: String = files.iter().map(|(_, s)| s.as_str()).collect();
    assert!(!everything.contains(&bob.to_string()), "Bob's data leaked");
    assert!(!everything.contains("push-"), "a push token leaked");
    assert_eq!(files_in(&dir), [format!("{}.tar.gz", started.export_id)]);

    // Past its time to live the sweeper deletes it: no file, no download.
    h.clock.advance(time::Duration::hours(2));
    eventually(EVENT_DEADLINE, "the archive is swept", || async {
        files_in(&dir).is_empty().then_some(())
    })
    .await;
    // The file goes first, then the row says so: wait for both (a loaded machine sees between).
    let swept = eventually(EVENT_DEADLINE, "the export is marked expired", || async {
        let e = finished(&h, ann, &started.export_id).await;
        (e.state == pb::DataExportState::Expired as i32).then_some(e)
    })
    .await;
    assert_eq!(swept.state, pb::DataExportState::Expired as i32);
    assert!(swept.download_url.is_empty());
    assert_eq!(download(&url, Some(&res.download_token), None).await.0, 404);
    h.stop().await;
}

#[tokio::test]
async fn a_deleted_users_archive_is_removed_with_their_rows() {
    let mut settings = stride_profile::ExportSettings::local();
    settings.sweep_every = Duration::from_millis(50);
    let dir = settings.dir.clone();
    let (h, _probe) = start_configured(stride_profile::NotifyConfig::default(), settings).await;
    let ann = user_in(&h, "ann", "UTC").await;
    let token = h.token(ann);
    let e = exports(&h)
        .request_data_export(authed(pb::RequestDataExportRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .export
        .unwrap();
    finished(&h, ann, &e.export_id).await;
    assert_eq!(files_in(&dir).len(), 1);
    let auth = stride_testkit::bus::Publisher::start(&h.amqp, "auth").await;
    h.consumed(auth.publish(&fixtures::user_deleted(ann, NOW)).await)
        .await;
    eventually(EVENT_DEADLINE, "the archive is removed", || async {
        files_in(&dir).is_empty().then_some(())
    })
    .await;
    let err = exports(&h)
        .get_data_export(authed(
            pb::GetDataExportRequest {
                export_id: e.export_id,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    h.stop().await;
}
