import Foundation
import PortalTestSupport
import Testing

/// A real browser against the whole system: headless Chromium signs in through the edge over
/// HTTPS, submits a CSRF-protected form, has forged forms (same page without the token, and from
/// another origin) refused, and signs out.
@Suite("Headless Chromium through the edge", .serialized)
struct BrowserTests {
    @Test("sign in over HTTPS, a protected form, forged forms refused, sign out",
          .enabled(if: ExternalTool.shouldRun(needing: ["chromium", "chromedriver"]),
                   "chromium and chromedriver are not installed (scripts/install-test-dependencies.sh installs them)"))
    func browserSession() async throws {
        let directory = try TemporaryDirectory(prefix: "portal-browser")
        defer { directory.remove() }
        let dataDirectory = directory.file("data")
        let ports = try FreePort.allocate(count: 3)
        let httpsPort = ports[1]
        let up = try PortalProcess.up(dataDirectory: dataDirectory, httpPort: ports[0], httpsPort: httpsPort,
                                      appPort: ports[2], outputDirectory: directory.path)
        try up.start()
        defer { up.signal(SIGKILL) }
        let started = await up.waitForOutput(seconds: 90) { stdout, _ in stdout.contains("is running") }
        try #require(started, "portal up did not start:\n\(up.stdout)\n\(up.stderr)")
        let email = try #require(PortalUpTests.value(after: "E-mail:", in: up.stdout))
        let password = try #require(PortalUpTests.value(after: "Password:", in: up.stdout))
        let site = "https://localhost:\(httpsPort)"

        let browser = try await WebDriverSession.start(directory: directory)
        do {
            try await exercise(browser, site: site, email: email, password: password)
        } catch {
            await browser.quit()
            throw error
        }
        await browser.quit()

        up.signal(SIGTERM)
        #expect(await up.waitForExit(seconds: 30) == 0)
    }

    private func exercise(_ browser: WebDriverSession, site: String, email: String, password: String) async throws {
        // Sign in with the form, as a person would.
        try await browser.open(site + "/tasks")
        #expect(try await browser.waitForURL { $0.contains("/login") }.hasPrefix(site + "/login"))
        try await browser.type(email, into: "input[name=email]")
        try await browser.type(password, into: "input[name=password]")
        try await browser.click("form[action='/login'] button[type=submit]")
        let afterLogin = try await browser.waitForURL { $0.hasSuffix("/tasks") }
        #expect(afterLogin == site + "/tasks")
        #expect(try await browser.source().contains("Bem-vindo ao Portal"))
        // The session cookie is HttpOnly: page scripts cannot read it.
        let visibleCookies = try await browser.execute("return document.cookie") as? String ?? ""
        #expect(!visibleCookies.contains("portal_session"))

        // A CSRF-protected form: create an API token.
        try await browser.open(site + "/tokens")
        try await browser.type("Token do navegador", into: "input[name=name]")
        try await browser.click("form[action='/tokens'] button[type=submit]")
        let created = try await browser.waitForText("Copie o token agora")
        #expect(created.contains("Copie o token agora"))
        #expect(created.contains("ptl_"))

        // The same form posted by a script on our page, without the token: refused.
        try await browser.open(site + "/tokens")
        try await browser.execute("""
            const form = document.createElement('form');
            form.method = 'post'; form.action = '/tokens';
            for (const [name, value] of [['name', 'forjado-sem-token'], ['scope', 'read,write'], ['days', '365']]) {
                const input = document.createElement('input'); input.name = name; input.value = value; form.appendChild(input);
            }
            document.body.appendChild(form); form.submit();
            """)
        let refused = try await browser.waitForText("A verificação de segurança do formulário falhou")
        #expect(refused.contains("A verificação de segurança do formulário falhou"))

        // A forged form on another origin, posting to the portal: refused too.
        let forged = """
            <form method="post" action="\(site)/tokens"><input name="name" value="forjado-de-fora">\
            <input name="scope" value="read,write"><input name="days" value="365"><button id="go">go</button></form>
            """
        try await browser.open("data:text/html;charset=utf-8," + (forged.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
        try await browser.click("#go")
        _ = try await browser.waitForURL { $0.hasPrefix(site) }
        let crossSite = try await browser.source()
        #expect(crossSite.contains("A verificação de segurança do formulário falhou") || crossSite.contains("Entrar no Portal"))

        try await browser.open(site + "/tokens")
        let list = try await browser.source()
        #expect(list.contains("Token do navegador"))
        #expect(!list.contains("forjado"))

        // Sign out with the header button; the tasks page then asks for a login again.
        try await browser.click("form[action='/logout'] button[type=submit]")
        #expect(try await browser.waitForURL { $0.hasSuffix("/login") } == site + "/login")
        try await browser.open(site + "/tasks")
        #expect(try await browser.waitForURL { $0.contains("/login?next=") }.hasPrefix(site + "/login?next="))
    }
}
