//! Drives a real headless Chromium (Debian's `chromium` and `chromium-driver`) over WebDriver for
//! the console tests: one chromedriver per test on a free port, started and killed here. Without
//! chromedriver the tests FAIL (CI installs it; see scripts/test).
//!
//! Also a plain HTTP console client (cookies handled by hand) for what a browser cannot show:
//! POSTs without a CSRF token, cookie attributes, the sign-in rate limit.

#![allow(dead_code)]

use crate::harness::{Backend, Server};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Where chromedriver is: `LICENSD_CHROMEDRIVER`, else `chromedriver` on the PATH, else Debian's path.
fn chromedriver() -> PathBuf {
    if let Ok(path) = std::env::var("LICENSD_CHROMEDRIVER") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("chromedriver"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/bin/chromedriver")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromedriver not found: the console tests need Debian's `chromium` and `chromium-driver` \
                 packages (scripts/test installs them: apt-get install -y chromium chromium-driver), or \
                 LICENSD_CHROMEDRIVER pointing at a chromedriver"
            )
        })
}

fn chromium() -> Option<PathBuf> {
    std::env::var("LICENSD_CHROMIUM")
        .ok()
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/chromium")).filter(|p| p.is_file()))
}

/// `target/console-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let binary = PathBuf::from(crate::harness::binary());
    // target/debug/licensd -> target
    let target = binary
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("create target/console-screenshots");
    dir
}

pub struct Browser {
    driver: Child,
    pub client: Client,
    base: String,
    prefix: String,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session against `server`.
    pub async fn start(server: &Server, test: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--no-first-run", "--disable-extensions"]
        });
        if let Some(binary) = chromium() {
            options["binary"] = json!(binary.display().to_string());
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), options);
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    let backend = match server.backend {
                        Backend::Sqlite => "sqlite",
                        Backend::Postgres => "postgres",
                    };
                    return Browser {
                        driver,
                        client,
                        base: server.base.clone(),
                        prefix: format!("{backend}-{test}"),
                    };
                }
                Err(error) => {
                    last_error = error.to_string();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        let _ = driver.kill();
        panic!("could not open a headless Chromium session through chromedriver: {last_error}");
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigate");
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("field {css}: {e}"));
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    pub async fn select(&self, css: &str, value: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("select {css}: {e}"));
        field.select_by_value(value).await.expect("select");
    }

    pub async fn click(&self, css: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("button {css}: {e}"));
        // Every console button submits a form: wait until the next page has replaced this one
        // (WebDriver's click can return before the navigation it starts is done).
        self.client
            .execute("window.__licensd_before_click = true;", vec![])
            .await
            .expect("mark page");
        element.click().await.expect("click");
        for _ in 0..200 {
            let done = self
                .client
                .execute(
                    "return window.__licensd_before_click === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            if done {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} did not load a new page within 10 s");
    }

    /// Waits (up to 30 s) for an element a self-reloading page (a running job's) will show.
    pub async fn wait_for(&self, css: &str) {
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("element {css} never appeared: {e}"));
    }

    pub async fn text(&self, css: &str) -> String {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("element {css}: {e}"));
        element.text().await.expect("text")
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self.client.find_all(Locator::Css(css)).await.expect("find").is_empty()
    }

    pub async fn source(&self) -> String {
        self.client.source().await.expect("page source")
    }

    /// Saves a screenshot as `target/console-screenshots/<backend>-<test>-<name>.png`.
    pub async fn shot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let path = screenshot_dir().join(format!("{}-{name}.png", self.prefix));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Fetches `path` from inside the page (with the page's cookies); returns status and text.
    pub async fn fetch(&self, path: &str) -> (u16, String) {
        let script = "const done = arguments[arguments.length - 1];\
                      fetch(arguments[0], {credentials: 'same-origin'})\
                        .then(r => r.text().then(t => done([r.status, t])))\
                        .catch(e => done([0, String(e)]));";
        let value = self
            .client
            .execute_async(script, vec![json!(path)])
            .await
            .expect("fetch in page");
        (
            value[0].as_u64().unwrap_or(0) as u16,
            value[1].as_str().unwrap_or_default().to_string(),
        )
    }

    /// Signs in with `token` and lands on the dashboard.
    pub async fn sign_in(&self, token: &str) {
        self.goto("/console/sign-in").await;
        self.fill("#token", token).await;
        self.click("#sign-in").await;
    }

    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

const FORM: &str = "application/x-www-form-urlencoded";

/// A console session over plain HTTP.
pub struct PlainSession {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: String,
}

fn cookie_value(headers: &reqwest::header::HeaderMap, name: &str) -> Option<(String, String)> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim_start_matches(&format!("{name}="))
                .to_string();
            (value, v.to_string())
        })
}

/// The value of `<input ... name="NAME" value="...">` in a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_string())
}

impl PlainSession {
    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client")
    }

    /// Signs in like the form does; returns the session and the full `Set-Cookie` of the session.
    pub async fn sign_in(
        server: &Server,
        token: &str,
        extra: &[(&str, &str)],
    ) -> (reqwest::StatusCode, Option<Self>, String) {
        let http = Self::client();
        let page = http
            .get(server.url("/console/sign-in"))
            .send()
            .await
            .expect("sign-in page");
        let (login, _) = cookie_value(page.headers(), "licensd_console_login").expect("login cookie");
        let html = page.text().await.expect("page");
        let field = hidden(&html, "login").expect("login field");
        assert_eq!(field, login, "the form carries the login cookie's value");
        let mut request = http
            .post(server.url("/console/sign-in"))
            .header("cookie", format!("licensd_console_login={login}"))
            .header("content-type", FORM)
            .body(serde_urlencoded::to_string([("login", login.as_str()), ("token", token)]).expect("form"));
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let answer = request.send().await.expect("sign in");
        let status = answer.status();
        match cookie_value(answer.headers(), "licensd_console") {
            Some((cookie, full)) if !cookie.is_empty() => (
                status,
                Some(Self {
                    http,
                    base: server.base.clone(),
                    cookie,
                }),
                full,
            ),
            _ => (status, None, String::new()),
        }
    }

    pub async fn get(&self, path: &str) -> (reqwest::StatusCode, String) {
        let answer = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("licensd_console={}", self.cookie))
            .send()
            .await
            .expect("get");
        let status = answer.status();
        let location = answer
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = answer.text().await.expect("text");
        (status, location.unwrap_or(text))
    }

    /// The session's CSRF token, read from a page's form.
    pub async fn csrf(&self) -> String {
        let (_, html) = self.get("/console/products").await;
        hidden(&html, "csrf").expect("csrf field")
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (reqwest::StatusCode, String) {
        let answer = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("licensd_console={}", self.cookie))
            .header("content-type", FORM)
            .body(serde_urlencoded::to_string(form).expect("form"))
            .send()
            .await
            .expect("post");
        let status = answer.status();
        (status, answer.text().await.expect("text"))
    }
}

/// The number of events in the log (to show a refusal wrote none).
pub async fn event_count(server: &Server) -> usize {
    let (_, body) = server.admin(reqwest::Method::GET, "/v1/events?limit=1000", None).await;
    body["data"].as_array().map_or(0, Vec::len)
}

pub async fn product_count(server: &Server) -> usize {
    let (_, body): (_, Value) = server
        .admin(reqwest::Method::GET, "/v1/products?limit=1000", None)
        .await;
    body["data"].as_array().map_or(0, Vec::len)
}
