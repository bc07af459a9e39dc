//! The integration tests: one binary, one module per area.
//! Every test uses the real RabbitMQ and PostgreSQL, with its own queue
//! prefix and schema, and cleans up after itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod after;
mod bus;
mod egress;
mod embedded;
mod fuzz;
mod ingress;
mod mainpath;
mod reliability;
mod storage;
