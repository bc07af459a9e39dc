//! The integration tests: one binary, one module per area.
//! Every test uses the real RabbitMQ and PostgreSQL, with its own queue
//! prefix and schema, and cleans up after itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// One test per deployment (every service on RabbitMQ and PostgreSQL, and
/// the embedded gateway) for each scenario `async fn name(kind: Kind)`.
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {
        mod services {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(gw_tests::deploy::Kind::Services).await
                }
            )+
        }
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(gw_tests::deploy::Kind::Embedded).await
                }
            )+
        }
    };
}

mod after;
mod bus;
mod console;
mod contracts;
mod egress;
mod embedded;
mod fuzz;
mod ingress;
mod mainpath;
mod metrics;
mod processes;
mod reliability;
mod reports;
mod sandbox;
mod storage;
mod traces;
