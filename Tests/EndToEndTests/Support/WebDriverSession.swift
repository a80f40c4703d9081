import Foundation
import NIOCore
import NIOHTTP1
import PortalTestSupport

/// A headless Chromium driven through chromedriver's W3C WebDriver API on loopback. The browser
/// resolves no host name but `localhost` and keeps its background services off, so its traffic
/// stays on this machine.
final class WebDriverSession: @unchecked Sendable {
    // @unchecked Sendable: the fields are set once in `start` and never changed; the test uses
    // the session from one task at a time.
    let driver: Process
    let port: Int
    let sessionID: String

    private init(driver: Process, port: Int, sessionID: String) {
        self.driver = driver
        self.port = port
        self.sessionID = sessionID
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts chromedriver on a free loopback port and opens a browser session.
    static func start(directory: TemporaryDirectory) async throws -> WebDriverSession {
        guard let chromedriver = ExternalTool.find("chromedriver"), let chromium = ExternalTool.find("chromium") else {
            throw Failure(description: "chromium and chromedriver are not installed; run scripts/install-test-dependencies.sh")
        }
        let port = try FreePort.allocate()
        let driver = Process()
        driver.executableURL = URL(fileURLWithPath: chromedriver)
        driver.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1", "--log-path=\(directory.file("chromedriver.log"))"]
        driver.standardOutput = FileHandle.nullDevice
        driver.standardError = FileHandle.nullDevice
        try driver.run()
        do {
            try await waitUntilReady(port: port)
            let options: [String: Any] = [
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--user-data-dir=\(directory.file("chromium-profile"))", "--no-first-run", "--no-default-browser-check",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
                    "--disable-client-side-phishing-detection", "--no-pings", "--metrics-recording-only",
                    "--disable-crash-reporter", "--disable-breakpad",
                    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost", "--window-size=1280,900",
                ],
            ]
            let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": [
                "browserName": "chrome", "acceptInsecureCerts": true, "goog:chromeOptions": options,
            ]]]
            let value = try await call(port: port, method: .POST, path: "/session", body: capabilities, timeout: 60)
            guard let sessionID = (value as? [String: Any])?["sessionId"] as? String else {
                throw Failure(description: "chromedriver did not open a session: \(String(describing: value))")
            }
            return WebDriverSession(driver: driver, port: port, sessionID: sessionID)
        } catch {
            kill(driver.processIdentifier, SIGKILL)
            await stop(driver)
            throw error
        }
    }

    /// Closes the browser and stops chromedriver: its own `/shutdown` first, then SIGKILL by PID
    /// (a test process may hand SIGTERM down as ignored).
    func quit() async {
        _ = try? await command(.DELETE, "")
        _ = try? await TestHTTPClient.request(port: port, path: "/shutdown", timeout: .seconds(5))
        await Self.stop(driver)
    }

    private static func stop(_ process: Process) async {
        for _ in 0..<50 where process.isRunning {
            try? await Task.sleep(for: .milliseconds(100))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for _ in 0..<50 where process.isRunning {
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    func open(_ url: String) async throws {
        _ = try await command(.POST, "/url", ["url": url])
    }

    func currentURL() async throws -> String {
        try await command(.GET, "/url") as? String ?? ""
    }

    func source() async throws -> String {
        try await command(.GET, "/source") as? String ?? ""
    }

    func type(_ text: String, into selector: String) async throws {
        let element = try await find(selector)
        _ = try await command(.POST, "/element/\(element)/value", ["text": text])
    }

    func click(_ selector: String) async throws {
        let element = try await find(selector)
        _ = try await command(.POST, "/element/\(element)/click", [:])
    }

    @discardableResult
    func execute(_ script: String) async throws -> Any? {
        try await command(.POST, "/execute/sync", ["script": script, "args": []])
    }

    /// Polls (every 100 ms, at most `seconds`) until the page's URL satisfies `condition`.
    func waitForURL(seconds: Double = 15, _ condition: (String) -> Bool) async throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var url = ""
        while Date() < deadline {
            url = try await currentURL()
            if condition(url) { return url }
            try await Task.sleep(for: .milliseconds(100))
        }
        return url
    }

    /// Polls until the page's source contains `text`; returns the last source seen.
    func waitForText(_ text: String, seconds: Double = 15) async throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var html = ""
        while Date() < deadline {
            html = try await source()
            if html.contains(text) { return html }
            try await Task.sleep(for: .milliseconds(100))
        }
        return html
    }

    private func find(_ selector: String) async throws -> String {
        let value = try await command(.POST, "/element", ["using": "css selector", "value": selector])
        guard let element = (value as? [String: Any])?.values.first as? String else {
            throw Failure(description: "no element matches \(selector)")
        }
        return element
    }

    private func command(_ method: HTTPMethod, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        try await Self.call(port: port, method: method, path: "/session/\(sessionID)" + path, body: body)
    }

    private static func call(port: Int, method: HTTPMethod, path: String, body: [String: Any]?, timeout: Int64 = 30)
        async throws -> Any? {
        let text = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        let response = try await TestHTTPClient.request(
            port: port, method: method, path: path,
            headers: text == nil ? [] : [("Content-Type", "application/json")], body: text, timeout: .seconds(timeout))
        let object = try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
        guard response.status == 200 else {
            throw Failure(description: "WebDriver \(method) \(path) answered \(response.status): \(response.body.prefix(400))")
        }
        return object?["value"]
    }

    private static func waitUntilReady(port: Int) async throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let status = try? await TestHTTPClient.request(port: port, path: "/status", timeout: .seconds(2)),
               status.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "chromedriver did not start on port \(port)")
    }
}
