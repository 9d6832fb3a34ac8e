//! Avatars: the uploaded image checked and re-encoded, the preset set, and where the files live
//! ([`storage`]).
//!
//! An upload is at most [`MAX_UPLOAD_BYTES`] (2 MiB; the gateway's 4 MiB message limit and
//! tonic's default 4 MiB decoding limit leave room for it, also as base64 in JSON). Its type
//! comes from its magic bytes (never a file name or declared type): PNG, JPEG, WebP or GIF. The
//! header's dimensions are read before any pixel is, and decoding runs under `image::Limits`
//! (at most [`MAX_SIDE`] pixels a side and [`MAX_ALLOC`] bytes of decoder memory), so a tiny
//! file announcing a gigapixel image is refused without allocating it. The result is a
//! [`THUMB_SIDE`]-pixel square, center-cropped, encoded as JPEG (quality 85): a photo avatar is
//! 10–25 KB that way against 60–150 KB as PNG or lossless WebP (the `image` crate's WebP encoder
//! is lossless only), every client decodes JPEG, and an avatar needs no transparency (it is
//! flattened onto white).

pub mod http;
pub mod s3;
pub mod storage;

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits, imageops::FilterType};

pub const MAX_UPLOAD_BYTES: usize = 2 * 1024 * 1024;
pub const MAX_SIDE: u32 = 8192;
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;
pub const THUMB_SIDE: u32 = 256;
pub const CONTENT_TYPE: &str = "image/jpeg";

/// Why an upload was refused (each becomes INVALID_ARGUMENT on `content`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("empty")]
    Empty,
    #[error("larger than {MAX_UPLOAD_BYTES} bytes (2 MiB)")]
    TooLarge,
    #[error("not a PNG, JPEG, WebP or GIF image (judged by its content)")]
    NotAnImage,
    #[error("image is {0}×{1} pixels; at most {MAX_SIDE}×{MAX_SIDE} are accepted")]
    TooManyPixels(u32, u32),
    #[error("image exceeds the decoding limits (at most {MAX_SIDE}×{MAX_SIDE} pixels)")]
    OverLimits,
    #[error("the image could not be decoded")]
    Corrupt,
}

/// Checks `bytes` and turns them into the stored thumbnail (JPEG). CPU-bound: run it on the
/// blocking pool.
pub fn thumbnail(bytes: &[u8]) -> Result<Vec<u8>, Refused> {
    if bytes.is_empty() {
        return Err(Refused::Empty);
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(Refused::TooLarge);
    }
    let format = image::guess_format(bytes).map_err(|_| Refused::NotAnImage)?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif
    ) {
        return Err(Refused::NotAnImage);
    }
    let reader = || {
        let mut r = ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        limits.max_alloc = Some(MAX_ALLOC);
        r.limits(limits);
        r
    };
    // The header alone first: a decompression bomb is refused before any pixel is decoded.
    let (w, h) = reader().into_dimensions().map_err(|e| refusal(&e))?;
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(Refused::TooManyPixels(w, h));
    }
    if w == 0 || h == 0 {
        return Err(Refused::Corrupt);
    }
    let img = reader().decode().map_err(|e| refusal(&e))?;
    let square = img.resize_to_fill(THUMB_SIDE, THUMB_SIDE, FilterType::Lanczos3);
    let rgba = square.to_rgba8();
    // Flatten onto white: JPEG has no alpha.
    let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
    for (dst, src) in rgb.pixels_mut().zip(rgba.pixels()) {
        let [r, g, b, a] = src.0;
        let blend =
            |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        dst.0 = [blend(r), blend(g), blend(b)];
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&rgb)
        .map_err(|_| Refused::Corrupt)?;
    Ok(out)
}

fn refusal(e: &image::ImageError) -> Refused {
    match e {
        image::ImageError::Limits(_) => Refused::OverLimits,
        image::ImageError::Unsupported(_) => Refused::NotAnImage,
        _ => Refused::Corrupt,
    }
}

/// The preset avatars (seed 001's picker): id and the SVG served for it.
pub const PRESETS: &[(&str, &str)] = &[
    ("fox", "#e8743b"),
    ("owl", "#8c6d46"),
    ("whale", "#3b7de8"),
    ("cat", "#6d6d6d"),
    ("panda", "#2f2f2f"),
    ("frog", "#4caf50"),
    ("bee", "#f2c12e"),
    ("octopus", "#b04fc4"),
];

pub fn is_preset(id: &str) -> bool {
    PRESETS.iter().any(|(p, _)| *p == id)
}

/// The preset's image: a colored disc with the preset's initial (served as image/svg+xml).
pub fn preset_svg(id: &str) -> Option<String> {
    let (name, color) = PRESETS.iter().find(|(p, _)| *p == id)?;
    let initial = name.chars().next()?.to_ascii_uppercase();
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256"><circle cx="128" cy="128" r="128" fill="{color}"/><text x="128" y="168" font-family="sans-serif" font-size="120" text-anchor="middle" fill="#ffffff">{initial}</text></svg>"##
    ))
}

/// A stored avatar's key: the owner and a fresh id, so a new upload never overwrites a file a
/// cache may still serve, and a user's objects are recognisable (purges, audits).
pub fn new_key(user: uuid::Uuid) -> String {
    format!("{}-{}.jpg", user.simple(), uuid::Uuid::now_v7().simple())
}

/// Keys are ours: hex, one dash, ".jpg" — anything else in a URL is refused before storage.
pub fn is_valid_key(key: &str) -> bool {
    let Some(stem) = key.strip_suffix(".jpg") else {
        return false;
    };
    let Some((a, b)) = stem.split_once('-') else {
        return false;
    };
    a.len() == 32 && b.len() == 32 && a.chars().chain(b.chars()).all(|c| c.is_ascii_hexdigit())
}

/// Public URLs of avatars: `<base>/avatars/<key>` and `<base>/avatars/presets/<id>.svg`.
#[derive(Clone, Debug)]
pub struct Urls {
    base: std::sync::Arc<std::sync::OnceLock<String>>,
}

impl Urls {
    /// `configured` (PROFILE_PUBLIC_URL) when given; otherwise set from the HTTP port once
    /// it is bound ([`Urls::bound`]).
    pub fn new(configured: Option<&str>) -> Self {
        let base = std::sync::OnceLock::new();
        if let Some(c) = configured {
            let _ = base.set(c.trim_end_matches('/').to_owned());
        }
        Self {
            base: std::sync::Arc::new(base),
        }
    }

    /// Sets the base to the bound HTTP address unless one was configured.
    pub fn bound(&self, http: std::net::SocketAddr) {
        let _ = self.base.set(format!("http://{http}"));
    }

    fn base(&self) -> &str {
        self.base.get().map(String::as_str).unwrap_or_default()
    }

    /// `path` on the public base (data export downloads).
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    pub fn upload(&self, key: &str) -> String {
        format!("{}/avatars/{key}", self.base())
    }

    pub fn preset(&self, id: &str) -> String {
        format!("{}/avatars/presets/{id}.svg", self.base())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(w, h, image::Rgba([200, 10, 10, 128]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn an_image_becomes_a_square_jpeg_thumbnail() {
        let thumb = thumbnail(&png(640, 320)).unwrap();
        assert_eq!(image::guess_format(&thumb).unwrap(), ImageFormat::Jpeg);
        let decoded = image::load_from_memory(&thumb).unwrap();
        assert_eq!(
            (decoded.width(), decoded.height()),
            (THUMB_SIDE, THUMB_SIDE)
        );
        // Half-transparent red over white.
        let p = decoded.to_rgb8().get_pixel(128, 128).0;
        assert!(p[0] > 200 && p[1] > 100 && p[1] < 160, "{p:?}");
    }

    #[test]
    fn content_decides_not_names() {
        assert_eq!(thumbnail(b""), Err(Refused::Empty));
        assert_eq!(
            thumbnail(b"hello, I am a text file named avatar.png"),
            Err(Refused::NotAnImage)
        );
        // A BMP is an image, but not one we take.
        assert_eq!(thumbnail(b"BM\x00\x00\x00\x00"), Err(Refused::NotAnImage));
        let mut truncated = png(64, 64);
        truncated.truncate(60);
        assert_eq!(thumbnail(&truncated), Err(Refused::Corrupt));
        assert_eq!(
            thumbnail(&vec![0x89; MAX_UPLOAD_BYTES + 1]),
            Err(Refused::TooLarge)
        );
    }

    #[test]
    fn keys_and_presets() {
        let k = new_key(uuid::Uuid::now_v7());
        assert!(is_valid_key(&k), "{k}");
        for bad in ["../etc/passwd", "a-b.jpg", &k.replace(".jpg", ".png"), ""] {
            assert!(!is_valid_key(bad), "{bad}");
        }
        assert!(is_preset("fox") && !is_preset("dragon"));
        assert!(preset_svg("owl").unwrap().starts_with("<svg"));
        let urls = Urls::new(Some("https://cdn.example.com/"));
        urls.bound("127.0.0.1:1".parse().unwrap());
        assert_eq!(
            urls.preset("fox"),
            "https://cdn.example.com/avatars/presets/fox.svg"
        );
    }
}
