@testable import Edge
import NIOHTTP1
import PortalCore
import Testing

@Suite("Edge: header rules in layers (defaults, edge-wide, site)")
struct HeaderPolicyTests {
    private func headers(edge: HeaderRules, site: HeaderRules, siteHSTS: String? = nil, tls: Bool = true,
                         upstream: [(String, String)] = []) -> HTTPHeaders {
        var settings = EdgeSettings()
        settings.headers = edge
        var siteSettings = SiteSettings(name: "a", hosts: ["a.test"], routes: [])
        siteSettings.headers = site
        siteSettings.hsts = siteHSTS
        var headers = HTTPHeaders(upstream)
        HeaderPolicy(edge: settings, site: siteSettings, tls: tls).apply(to: &headers)
        return headers
    }

    @Test("a site sets a header the edge unsets, and unsets one the edge appends")
    func siteOverridesEdge() {
        let result = headers(
            edge: HeaderRules(append: [HeaderField(name: "X-Edge-App", value: "e")], unset: ["Permissions-Policy"]),
            site: HeaderRules(set: [HeaderField(name: "Permissions-Policy", value: "camera=()")], unset: ["X-Edge-App"]),
            upstream: [("Permissions-Policy", "geolocation=*"), ("X-Edge-App", "upstream")])
        #expect(result[canonicalForm: "permissions-policy"] == ["camera=()"])
        #expect(result[canonicalForm: "x-edge-app"].isEmpty)
        #expect(result.first(name: "X-Frame-Options") == "DENY")
    }

    @Test("set replaces what an earlier layer appended; append keeps the upstream's value")
    func setReplacesAppend() {
        let result = headers(
            edge: HeaderRules(append: [HeaderField(name: "Cache-Control", value: "no-transform")]),
            site: HeaderRules(set: [HeaderField(name: "Cache-Control", value: "no-store")],
                              append: [HeaderField(name: "Link", value: "</a.css>; rel=preload")]),
            upstream: [("Cache-Control", "private"), ("Link", "</b.js>; rel=preload")])
        #expect(result[canonicalForm: "cache-control"] == ["no-store"])
        #expect(result[canonicalForm: "link"] == ["</b.js>; rel=preload", "</a.css>; rel=preload"])
    }

    @Test("an edge-wide unset removes the upstream's field even when the site appends its own")
    func unsetThenAppend() {
        let result = headers(edge: HeaderRules(unset: ["X-Powered-By"]),
                             site: HeaderRules(append: [HeaderField(name: "X-Powered-By", value: "Portal")]),
                             upstream: [("X-Powered-By", "Flask")])
        #expect(result[canonicalForm: "x-powered-by"] == ["Portal"])
    }

    @Test("HSTS: the site's value wins over an edge-wide unset; off removes it; never over plain HTTP")
    func hsts() {
        let unsetAtEdge = HeaderRules(unset: ["Strict-Transport-Security"])
        #expect(headers(edge: unsetAtEdge, site: HeaderRules()).first(name: "Strict-Transport-Security") == nil)
        #expect(headers(edge: unsetAtEdge, site: HeaderRules(), siteHSTS: "max-age=60")
            .first(name: "Strict-Transport-Security") == "max-age=60")
        #expect(headers(edge: HeaderRules(), site: HeaderRules(), siteHSTS: "off")
            .first(name: "Strict-Transport-Security") == nil)
        #expect(headers(edge: HeaderRules(), site: HeaderRules(), tls: false)
            .first(name: "Strict-Transport-Security") == nil)
        #expect(headers(edge: HeaderRules(), site: HeaderRules())
            .first(name: "Strict-Transport-Security") == HeaderRules.defaultHSTS)
    }
}
