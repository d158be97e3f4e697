//! RESP2/RESP3 wire protocol: request parsing (zero-copy) and reply encoding.
pub mod parse;
pub mod reply;

pub use parse::{parse_request, Args, ParseError, Request};
pub use reply::Reply;
