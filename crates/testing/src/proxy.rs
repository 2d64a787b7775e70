//! A fault-injecting TCP proxy: stands between an instance and a real server, and can cut every
//! connection (and refuse new ones) on demand, then let traffic through again.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{net::TcpListener, task::JoinHandle};

/// A TCP proxy to one server whose connections can be cut and restored.
pub struct FaultProxy {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let acceptor = {
            let (open, connections) = (open.clone(), connections.clone());
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !open.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let task = tokio::spawn(async move {
                        if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    connections.lock().unwrap().push(task);
                }
            })
        };
        Self {
            addr,
            open,
            connections,
            acceptor,
        }
    }

    /// Returns the address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts every open connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.cut();
    }
}

/// The socket address of a `postgres://` or `redis://` URL.
pub fn target_of(url: &str) -> SocketAddr {
    let parsed = url::Url::parse(url).expect("url");
    let host = parsed.host_str().expect("host");
    let port = parsed.port_or_known_default().unwrap_or(match parsed.scheme() {
        "redis" => 6379,
        _ => 5432,
    });
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .expect("resolves")
        .next()
        .expect("an address")
}

/// `url` with its host and port replaced by the proxy's.
pub fn through(url: &str, proxy: &FaultProxy) -> String {
    let mut parsed = url::Url::parse(url).expect("url");
    parsed.set_host(Some("127.0.0.1")).unwrap();
    parsed.set_port(Some(proxy.addr().port())).unwrap();
    parsed.to_string()
}
