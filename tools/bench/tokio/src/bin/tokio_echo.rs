// tools/bench/tokio/src/bin/tokio_echo.rs: the same echo server in tokio, what a Rust user
// would reach for.
//
//   tokio_echo --port=0      # prints "listening on 127.0.0.1:PORT"
//
// One current-thread runtime (giambio's loop is one thread too; echo_bench pins the server to
// one core), one task per connection, a 16 KiB buffer, TCP_NODELAY: as giambio's and Asio's.
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo(mut socket: TcpStream) {
    let mut buffer = vec![0u8; 16384];
    loop {
        let n = match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if socket.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

fn main() {
    let mut port: u16 = 9400;
    for argument in std::env::args().skip(1) {
        match argument.strip_prefix("--port=").map(str::parse::<u16>) {
            Some(Ok(p)) => port = p,
            _ => {
                eprintln!("tokio_echo: bad argument '{}' (usage: tokio_echo --port=N)", argument);
                std::process::exit(2);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        println!("listening on 127.0.0.1:{}", listener.local_addr().expect("address").port());
        loop {
            let (socket, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(_) => continue,
            };
            let _ = socket.set_nodelay(true);
            tokio::spawn(echo(socket));
        }
    });
}
