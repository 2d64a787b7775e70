//! Typed clients of the tse production APIs, for every service that calls another instance.
//!
//! A client is found through discovery — `Exchange::find(&peers, Some(&name))` with the
//! [`Peers`] the host lends each service — or built on a channel or an
//! address. Its methods take and return the generated messages of [`tse_proto`] (or small typed
//! results) and turn a failed call into a [`ClientError`] that keeps the gRPC code and message.
//! A client found through [`Peers`] shares the instance's cached
//! channel; after a failed call, [`Exchange::forget`] (and the others' `forget`) lets the next
//! lookup connect afresh.
//!
//! # Back doors
//! The `/chaos/v1/faults` back door is reachable only through `chaos`, which exists only when the
//! cargo feature `chaos` is on (it is off by default). A crate that depends on `tse-client` without
//! that feature — every production service — cannot inject a fault: the type is not there to name.
//! Only the test coordinator and the tests turn it on.
//!
//! Where it sits (above the runtime, below the services; the back-door client only with the feature
//! `chaos`) and the invariants it keeps: `ARCHITECTURE.md` at the repository root.
//!
//! # Layout
//! - [`exchange`]: [`Exchange`], the exchange simulator's accounts, orders, trades and market stream.
//! - [`custodian`]: [`Custodian`], custody accounts, balances, positions and settlements.
//! - [`market_data`]: [`MarketData`], reference prices, candles and the price stream.
//! - [`audit`]: [`Audit`], the audit correlator's ingestion and queries.
//! - [`trading`]: [`Trading`], the trading desk's strategies, positions, P&L and kill switch.
//! - [`risk`]: [`Risk`], the risk monitor's alerts, their stream, the risk summary and limits.
//! - [`ClientError`], [`Updates`]: what every client answers with.
//! - `chaos` (feature `chaos`): `Chaos`, the back-door client built from the admin token.

use futures::{StreamExt, stream::BoxStream};
use tonic::Code;

pub mod audit;
#[cfg(feature = "chaos")]
pub mod chaos;
pub mod custodian;
pub mod exchange;
pub mod market_data;
pub mod risk;
pub mod trading;

pub use audit::Audit;
pub use custodian::Custodian;
pub use exchange::Exchange;
pub use market_data::MarketData;
pub use risk::Risk;
pub use trading::Trading;
pub use tse_runtime::peers::{PeerError, Peers};

/// Why a call did not answer what was asked.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ClientError {
    /// The instance (or the transport on its way) answered the call with an error status.
    #[error("{message} ({code:?})")]
    Status {
        /// The gRPC code.
        code: Code,
        /// The message, as the instance wrote it.
        message: String,
    },
    /// No connection could be made to the address given.
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The address tried.
        url: String,
        /// What the transport said.
        reason: String,
    },
}

impl ClientError {
    /// Returns the gRPC code (`Unavailable` for a connection that could not be made).
    pub fn code(&self) -> Code {
        match self {
            ClientError::Status { code, .. } => *code,
            ClientError::Connect { .. } => Code::Unavailable,
        }
    }

    /// Returns the message, without the code.
    pub fn message(&self) -> &str {
        match self {
            ClientError::Status { message, .. } => message,
            ClientError::Connect { reason, .. } => reason,
        }
    }
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        ClientError::Status {
            code: status.code(),
            message: status.message().to_owned(),
        }
    }
}

/// The messages of a server stream, each a message or the error that ended the stream.
pub type Updates<T> = BoxStream<'static, Result<T, ClientError>>;

fn updates<T: Send + 'static>(stream: tonic::Streaming<T>) -> Updates<T> {
    stream.map(|item| item.map_err(ClientError::from)).boxed()
}

/// Connects to `url` (`http://host:port`).
async fn channel(url: &str) -> Result<tonic::transport::Channel, ClientError> {
    let failed = |reason: String| ClientError::Connect {
        url: url.to_owned(),
        reason,
    };
    tonic::transport::Endpoint::from_shared(url.to_owned())
        .map_err(|e| failed(e.to_string()))?
        .connect()
        .await
        .map_err(|e| failed(e.to_string()))
}

/// The constructors every client has, over its generated client `$grpc` and service kind `$kind`.
macro_rules! client {
    ($(#[$doc:meta])* $name:ident, $grpc:ty, $kind:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            grpc: $grpc,
            // Boxed: most clients are built on a channel and carry nothing here.
            found: Option<Box<(tse_runtime::peers::Peers, tse_runtime::discovery::Registration)>>,
        }

        impl $name {
            /// Calls the instance at the other end of `channel`.
            pub fn new(channel: tonic::transport::Channel) -> Self {
                Self {
                    grpc: <$grpc>::new(channel),
                    found: None,
                }
            }

            /// Connects to the instance whose gRPC server is at `url` (`http://host:port`).
            ///
            /// # Errors
            /// [`ClientError::Connect`](crate::ClientError::Connect) when no connection can be made.
            pub async fn connect(url: &str) -> Result<Self, $crate::ClientError> {
                Ok(Self::new($crate::channel(url).await?))
            }

            /// Finds the instance called `name` in the ecosystem (or without a name the first, by
            /// name), as [`Peers::connect`](tse_runtime::peers::Peers::connect) does, over its shared
            /// channel.
            ///
            /// # Errors
            /// The [`PeerError`](tse_runtime::peers::PeerError) of the lookup.
            pub async fn find(
                peers: &tse_runtime::peers::Peers,
                name: Option<&tse_runtime::identity::InstanceName>,
            ) -> Result<Self, tse_runtime::peers::PeerError> {
                let peer = peers.connect($kind, name).await?;
                Ok(Self {
                    grpc: <$grpc>::new(peer.channel),
                    found: Some(Box::new((peers.clone(), peer.registration))),
                })
            }

            /// Returns the registration of the instance, when it was found through discovery.
            pub fn registration(&self) -> Option<&tse_runtime::discovery::Registration> {
                self.found.as_deref().map(|(_, registration)| registration)
            }

            /// Drops the shared channel of an instance found through discovery (a call through it
            /// failed): the next lookup reads the registry and connects afresh.
            pub fn forget(&self) {
                if let Some((peers, registration)) = self.found.as_deref() {
                    peers.forget($kind, &registration.instance);
                }
            }
        }
    };
}

/// Unary calls: each takes its request message and answers the response message.
macro_rules! unary {
    ($($(#[$doc:meta])* fn $method:ident($request:ty) -> $response:ty;)*) => {
        $(
            $(#[$doc])*
            ///
            /// # Errors
            /// The instance's error status as a [`ClientError`](crate::ClientError).
            pub async fn $method(&self, request: $request) -> Result<$response, $crate::ClientError> {
                Ok(self.grpc.clone().$method(request).await?.into_inner())
            }
        )*
    };
}

use {client, unary};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_keeps_its_code_and_message() {
        let error = ClientError::from(tonic::Status::not_found("unknown symbol DOGE-USD"));
        assert_eq!(error.code(), Code::NotFound);
        assert_eq!(error.message(), "unknown symbol DOGE-USD");
    }

    #[tokio::test]
    async fn an_address_nobody_listens_on_is_a_connect_error() {
        // Port 9 (discard) has no listener on a test machine.
        let error = Exchange::connect("http://127.0.0.1:9").await.unwrap_err();
        assert!(
            matches!(&error, ClientError::Connect { url, .. } if url == "http://127.0.0.1:9"),
            "{error}"
        );
        assert_eq!(error.code(), Code::Unavailable);
    }
}
