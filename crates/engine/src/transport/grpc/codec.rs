//! A tonic codec for `prost_reflect::DynamicMessage`: encodes and decodes any message whose
//! descriptor is known at run time.

use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// A message decoded as the response type, with its encoded size (what the decoder was
/// handed: the gRPC frame's payload, decompressed) — known here without measuring the message.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub message: DynamicMessage,
    pub size: u64,
}

/// Encodes `DynamicMessage`s and decodes them as `response`.
#[derive(Debug, Clone)]
pub struct DynamicCodec {
    response: MessageDescriptor,
}

impl DynamicCodec {
    pub fn new(response: MessageDescriptor) -> Self {
        Self { response }
    }
}

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = Decoded;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder(self.response.clone())
    }
}

#[derive(Debug)]
pub struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        // `encode` would first measure the message to check the buffer's room: an `EncodeBuf`
        // grows as it is written, and measuring a dynamic message walks all its fields.
        item.encode_raw(dst);
        Ok(())
    }
}

#[derive(Debug)]
pub struct DynamicDecoder(MessageDescriptor);

impl Decoder for DynamicDecoder {
    type Item = Decoded;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        use bytes::Buf as _;
        let size = src.remaining() as u64;
        let mut message = DynamicMessage::new(self.0.clone());
        message.merge(src).map_err(|e| {
            Status::internal(format!(
                "cannot decode the response as {}: {e}",
                self.0.full_name()
            ))
        })?;
        Ok(Some(Decoded { message, size }))
    }
}
