//! Avatars: uploads checked by content and size, decompression bombs refused, a square JPEG
//! thumbnail stored and served by URL, presets, removal and purge deleting the files.

use stride_proto::profile as pb;
use stride_testkit::{
    authed,
    bus::{Publisher, assert_invalid},
    fixtures,
};
use tonic::Code;
use uuid::Uuid;

use crate::support::{Harness, NOW, files, get, next_update, png, registered, start_with_avatars};

async fn upload(h: &Harness, user: Uuid, content: Vec<u8>) -> Result<pb::Profile, tonic::Status> {
    h.client
        .clone()
        .upload_my_avatar(authed(
            pb::UploadMyAvatarRequest { content },
            &h.token(user),
        ))
        .await
        .map(|r| r.into_inner().profile.expect("profile"))
}

async fn fetch(url: &str) -> (u16, Option<String>, Vec<u8>) {
    let r = reqwest::get(url).await.expect("GET avatar");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, ct, r.bytes().await.unwrap().to_vec())
}

/// A PNG whose header announces `w`×`h` pixels (CRC fixed up), with a tiny body: what a
/// decompression bomb looks like before decoding.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = png(4, 4);
    // Signature (8) + IHDR length (4) + "IHDR" (4), then width and height.
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn an_upload_is_stored_as_a_square_jpeg_served_at_its_url_and_announced() {
    let (h, mut probe, dir) = start_with_avatars().await;
    let user = Uuid::now_v7();
    let auth = Publisher::start(&h.amqp, "auth").await;
    registered(&h, &auth, user, "ann").await;
    next_update(&mut probe).await;

    // PNG bytes whatever the file was called: the content decides.
    let p = upload(&h, user, png(900, 600)).await.unwrap();
    let base = format!("http://{}/avatars/", h.running.http_addr);
    assert!(p.avatar_url.starts_with(&base), "{}", p.avatar_url);
    assert_eq!(p.avatar_preset, "");
    let (status, ct, body) = fetch(&p.avatar_url).await;
    assert_eq!((status, ct.as_deref()), (200, Some("image/jpeg")));
    let img = image::load_from_memory(&body).unwrap();
    assert_eq!(
        image::guess_format(&body).unwrap(),
        image::ImageFormat::Jpeg
    );
    assert_eq!((img.width(), img.height()), (256, 256));
    assert_eq!(files(dir.path()).len(), 1);

    let ev = next_update(&mut probe).await;
    assert_eq!(ev.avatar_url, p.avatar_url);
    assert_eq!(get(&h, user).await.unwrap().avatar_url, p.avatar_url);

    // A new upload replaces the file; the old URL is gone.
    let p2 = upload(&h, user, png(64, 64)).await.unwrap();
    assert_ne!(p2.avatar_url, p.avatar_url);
    assert_eq!(fetch(&p.avatar_url).await.0, 404);
    assert_eq!(fetch(&p2.avatar_url).await.0, 200);
    assert_eq!(files(dir.path()).len(), 1);

    // Removing deletes the file.
    let p3 = h
        .client
        .clone()
        .delete_my_avatar(authed(pb::DeleteMyAvatarRequest {}, &h.token(user)))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(p3.avatar_url, "");
    assert_eq!(fetch(&p2.avatar_url).await.0, 404);
    assert!(files(dir.path()).is_empty());
    // Keys that are not ours are not looked up.
    assert_eq!(fetch(&format!("{base}..%2F..%2Fetc%2Fpasswd")).await.0, 404);
    h.stop().await;
}

#[tokio::test]
async fn spoofed_oversized_and_bomb_uploads_are_refused_and_store_nothing() {
    let (h, _probe, dir) = start_with_avatars().await;
    let user = Uuid::now_v7();
    let auth = Publisher::start(&h.amqp, "auth").await;
    registered(&h, &auth, user, "bob").await;

    let text = b"I am a text file named avatar.png".to_vec();
    let mut truncated = png(32, 32);
    truncated.truncate(40);
    let mut too_big = png(8, 8);
    too_big.resize(2 * 1024 * 1024 + 1, 0);
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"/>"#.to_vec();
    for (what, content, needle) in [
        ("text", text, "not a PNG, JPEG, WebP or GIF"),
        ("svg", svg, "not a PNG, JPEG, WebP or GIF"),
        ("empty", Vec::new(), "empty"),
        ("truncated", truncated, "could not be decoded"),
        ("over 2 MiB", too_big, "larger than"),
        ("bomb", png_claiming(100_000, 100_000), "8192"),
        ("wide bomb", png_claiming(8193, 1), "8192"),
    ] {
        let err = upload(&h, user, content).await.unwrap_err();
        assert_invalid(&err, &["content"]);
        assert!(err.message().contains(needle), "{what}: {}", err.message());
    }
    assert!(files(dir.path()).is_empty());
    assert_eq!(get(&h, user).await.unwrap().avatar_url, "");
    // No profile: NOT_FOUND, and the processed file is not kept.
    let err = upload(&h, Uuid::now_v7(), png(16, 16)).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(files(dir.path()).is_empty());
    // No token.
    let err = h
        .client
        .clone()
        .upload_my_avatar(pb::UploadMyAvatarRequest { content: png(8, 8) })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn presets_are_listed_served_and_picked() {
    let (h, _probe, dir) = start_with_avatars().await;
    let user = Uuid::now_v7();
    let auth = Publisher::start(&h.amqp, "auth").await;
    registered(&h, &auth, user, "cleo").await;
    let token = h.token(user);
    let presets = h
        .client
        .clone()
        .list_avatar_presets(authed(pb::ListAvatarPresetsRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .presets;
    assert!(presets.len() >= 6);
    let fox = presets.iter().find(|p| p.id == "fox").unwrap();
    let (status, ct, body) = fetch(&fox.url).await;
    assert_eq!((status, ct.as_deref()), (200, Some("image/svg+xml")));
    assert!(body.starts_with(b"<svg"));

    upload(&h, user, png(50, 50)).await.unwrap();
    assert_eq!(files(dir.path()).len(), 1);
    let p = h
        .client
        .clone()
        .set_my_avatar_preset(authed(
            pb::SetMyAvatarPresetRequest {
                preset_id: "fox".into(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(
        (p.avatar_preset.as_str(), p.avatar_url.as_str()),
        ("fox", fox.url.as_str())
    );
    assert!(
        files(dir.path()).is_empty(),
        "the upload it replaced is deleted"
    );
    let err = h
        .client
        .clone()
        .set_my_avatar_preset(authed(
            pb::SetMyAvatarPresetRequest {
                preset_id: "dragon".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["preset_id"]);
    h.stop().await;
}

#[tokio::test]
async fn deleting_the_user_purges_their_avatar_file_and_only_theirs() {
    let (h, _probe, dir) = start_with_avatars().await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    let auth = Publisher::start(&h.amqp, "auth").await;
    registered(&h, &auth, user, "dora").await;
    registered(&h, &auth, other, "emil").await;
    let mine = upload(&h, user, png(40, 40)).await.unwrap();
    let theirs = upload(&h, other, png(40, 40)).await.unwrap();
    assert_eq!(files(dir.path()).len(), 2);

    let id = auth.publish(&fixtures::user_deleted(user, NOW)).await;
    h.consumed(id).await;
    assert_eq!(fetch(&mine.avatar_url).await.0, 404);
    assert_eq!(fetch(&theirs.avatar_url).await.0, 200);
    let left = files(dir.path());
    assert_eq!(left.len(), 1);
    assert!(theirs.avatar_url.ends_with(&left[0]));
    // A replay finds nothing to delete and succeeds.
    let id = auth.publish(&fixtures::user_deleted(user, NOW)).await;
    h.consumed(id).await;
    assert_eq!(files(dir.path()).len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn a_merge_gives_the_guests_avatar_to_a_target_without_one_and_deletes_it_otherwise() {
    let (h, _probe, dir) = start_with_avatars().await;
    let (guest1, bare, guest2, pictured) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let auth = Publisher::start(&h.amqp, "auth").await;
    for (u, n) in [
        (guest1, "g1"),
        (bare, "bare"),
        (guest2, "g2"),
        (pictured, "pic"),
    ] {
        registered(&h, &auth, u, n).await;
    }
    let g1 = upload(&h, guest1, png(30, 30)).await.unwrap();
    let g2 = upload(&h, guest2, png(30, 30)).await.unwrap();
    let own = upload(&h, pictured, png(30, 30)).await.unwrap();
    for (source, target) in [(guest1, bare), (guest2, pictured)] {
        let id = auth
            .publish(&fixtures::user_merged(
                &source.to_string(),
                &target.to_string(),
                NOW,
            ))
            .await;
        h.consumed(id).await;
    }
    assert_eq!(get(&h, bare).await.unwrap().avatar_url, g1.avatar_url);
    assert_eq!(fetch(&g1.avatar_url).await.0, 200);
    assert_eq!(get(&h, pictured).await.unwrap().avatar_url, own.avatar_url);
    assert_eq!(
        fetch(&g2.avatar_url).await.0,
        404,
        "the guest's file is deleted"
    );
    assert_eq!(files(dir.path()).len(), 2);
    h.stop().await;
}
