//! Calls any gRPC method by path with pre-encoded bytes (for the descriptor-driven input sweep), and
//! channels from distinct loopback source addresses (the gateway rate-limits per client address).

use std::net::{Ipv4Addr, SocketAddr};

use bytes::{Buf as _, BufMut as _, Bytes};
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

/// A codec that passes message bytes through untouched in both directions.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

#[derive(Clone, Copy, Debug, Default)]
pub struct RawEncoder;

#[derive(Clone, Copy, Debug, Default)]
pub struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Calls `path` (`/pkg.Service/Method`) with `body` as the encoded request message.
pub async fn unary_raw(
    channel: tonic::transport::Channel,
    path: &str,
    request: tonic::Request<Bytes>,
) -> Result<tonic::Response<Bytes>, Status> {
    let path = http::uri::PathAndQuery::try_from(path)
        .map_err(|e| Status::invalid_argument(format!("bad path {path}: {e}")))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("channel not ready: {e}")))?;
    grpc.unary(request, path, RawCodec).await
}

/// A channel to `target` whose connections leave from `source` (any 127.0.0.0/8 address works on
/// Linux loopback), so the gateway sees a distinct client.
pub async fn channel_from(
    source: Ipv4Addr,
    target: SocketAddr,
) -> anyhow::Result<tonic::transport::Channel> {
    let connector = tower::service_fn(move |_: http::Uri| async move {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source.into(), 0))?;
        let stream = socket.connect(target).await?;
        stream.set_nodelay(true)?;
        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
    });
    Ok(
        tonic::transport::Endpoint::from_shared(format!("http://{target}"))?
            .connect_with_connector(connector)
            .await?,
    )
}
