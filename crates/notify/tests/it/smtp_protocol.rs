//! A raw SMTP conversation with the sink, line by line.

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::{DEADLINE, sink};

struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> (Client, String) {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut client = Client {
            reader: BufReader::new(r),
            writer: w,
        };
        let greeting = client.reply().await;
        (client, greeting)
    }

    /// A whole (possibly multi-line) reply, lines joined with `\n`.
    async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(DEADLINE, self.reader.read_line(&mut line))
                .await
                .expect("reply in time")
                .unwrap();
            assert!(n > 0, "connection closed; so far {lines:?}");
            let line = line.trim_end().to_string();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines.join("\n");
            }
        }
    }

    async fn send(&mut self, line: &str) -> String {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
        self.reply().await
    }
}

fn code(reply: &str) -> &str {
    &reply[..3]
}

#[tokio::test]
async fn conversation() {
    let sink = sink().await;
    let (mut c, greeting) = Client::connect(sink.smtp_addr()).await;
    assert_eq!(code(&greeting), "220");

    assert_eq!(
        code(&c.send("MAIL FROM:<a@x.org>").await),
        "503",
        "EHLO first"
    );
    assert_eq!(code(&c.send("FROB").await), "500");
    assert_eq!(code(&c.send("STARTTLS").await), "502");
    assert_eq!(code(&c.send("EHLO").await), "501");
    let ehlo = c.send("EHLO client.test").await;
    assert!(ehlo.starts_with("250-"), "{ehlo}");
    assert!(ehlo.contains("8BITMIME"), "{ehlo}");
    assert!(ehlo.contains("SIZE 1048576"), "{ehlo}");
    assert_eq!(code(&c.send("NOOP").await), "250");
    assert_eq!(
        code(&c.send("RCPT TO:<b@x.org>").await),
        "503",
        "MAIL first"
    );
    assert_eq!(code(&c.send("DATA").await), "503", "RCPT first");
    assert_eq!(
        code(&c.send("MAIL FROM:<a@x.org> SIZE=2000000").await),
        "552"
    );
    assert_eq!(code(&c.send("MAIL FROM:<a@x.org> SIZE=100").await), "250");
    assert_eq!(
        code(&c.send("MAIL FROM:<a@x.org>").await),
        "503",
        "nested MAIL"
    );
    for i in 0..100 {
        assert_eq!(code(&c.send(&format!("RCPT TO:<r{i}@x.org>")).await), "250");
    }
    assert_eq!(code(&c.send("RCPT TO:<r100@x.org>").await), "452");
    assert_eq!(code(&c.send("RSET").await), "250");
    assert_eq!(
        code(&c.send("DATA").await),
        "503",
        "RSET dropped the transaction"
    );

    // Pipelined transaction with a dot-stuffed body.
    let batch = "MAIL FROM:<>\r\nRCPT TO:<Bob@X.org>\r\nRCPT TO:<carol@x.org>\r\nDATA\r\n";
    c.writer.write_all(batch.as_bytes()).await.unwrap();
    for expected in ["250", "250", "250", "354"] {
        assert_eq!(code(&c.reply().await), expected);
    }
    let body = "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\r\nline one\r\n..dotted\r\n.\r\n";
    c.writer.write_all(body.as_bytes()).await.unwrap();
    let queued = c.reply().await;
    assert_eq!(code(&queued), "250", "{queued}");

    let got = sink.wait_for_mail("bob@x.org", DEADLINE).await.unwrap();
    assert_eq!(got.from, "");
    assert_eq!(got.to, ["Bob@X.org", "carol@x.org"]);
    assert_eq!(got.subject, "Grüße");
    assert_eq!(got.text, "line one\n.dotted");
    assert!(queued.contains(&got.id.to_string()), "{queued}");
    assert_eq!(sink.mail_to("carol@x.org").len(), 1);

    // An over-long command line is refused, and the session stays usable.
    let long = format!("NOOP {}", "x".repeat(5000));
    assert_eq!(code(&c.send(&long).await), "500");
    assert_eq!(code(&c.send("HELO again").await), "250");
    assert_eq!(code(&c.send("QUIT").await), "221");
    let mut rest = String::new();
    assert_eq!(
        c.reader.read_line(&mut rest).await.unwrap(),
        0,
        "closed after QUIT"
    );
}
