//! RESP2/RESP3 wire protocol: request parsing (zero-copy) and reply encoding.
pub mod client;
pub mod parse;
pub mod reply;

pub use parse::{parse_request, parse_request_resume, Args, ParseError, Partial, Request};
pub use reply::Reply;
