@testable import Edge
import NIOHTTP1
import Testing

@Suite("Edge: request target normalization")
struct RequestTargetTests {
    @Test("targets already in normal form are left alone", arguments: [
        "/", "/index.html", "/api/v1/tasks?page=2&q=a//b/../c", "/a.b/c..d/...", "/static/app.css",
    ])
    func unchanged(_ uri: String) {
        #expect(RequestTarget.normalize(uri) == .unchanged)
    }

    @Test("dot segments, repeated slashes and encoded unreserved characters are resolved", arguments: [
        ("//private/", "/private/"), ("/./private/", "/private/"), ("/x/../private/", "/private/"),
        ("/%70rivate/", "/private/"), ("/x/%2e%2e/private", "/private"), ("/x/%2E%2E/private", "/private"),
        ("/a/b/.", "/a/b/"), ("/a/b/..", "/a/"), ("/a//b///c", "/a/b/c"), ("/a/./b?x=/../y", "/a/b?x=/../y"),
        ("/api/../api/v2/x", "/api/v2/x"), ("/caf%C3%A9/%7euser", "/caf%C3%A9/~user"), ("/a%20b/./c", "/a%20b/c"),
        ("/x/..", "/"),
    ])
    func normalized(_ pair: (String, String)) {
        #expect(RequestTarget.normalize(pair.0) == .normalized(pair.1), "\(pair.0)")
    }

    @Test("encoded slashes are not found; bad escapes, encoded NUL and climbing above the root are bad requests")
    func refused() {
        #expect(RequestTarget.normalize("/private%2Findex.html") == .refused(.notFound, reason: "encoded slash in the path"))
        #expect(RequestTarget.normalize("/a%2fb") == .refused(.notFound, reason: "encoded slash in the path"))
        for uri in ["/a%zz", "/a%4", "/a%"] {
            #expect(RequestTarget.normalize(uri) == .refused(.badRequest, reason: "malformed percent-encoding in the path"), "\(uri)")
        }
        #expect(RequestTarget.normalize("/a%00.png") == .refused(.badRequest, reason: "encoded NUL in the path"))
        #expect(RequestTarget.normalize("/../etc/passwd") == .refused(.badRequest, reason: "the path climbs above the root"))
        #expect(RequestTarget.normalize("/a/../../b") == .refused(.badRequest, reason: "the path climbs above the root"))
        #expect(RequestTarget.normalize("/admin#") == .refused(.badRequest, reason: "fragment (#) in the request target"))
        #expect(RequestTarget.normalize("/a?x#y") == .refused(.badRequest, reason: "fragment (#) in the request target"))
        #expect(RequestTarget.normalize("/a\\admin") == .refused(.badRequest, reason: "backslash in the path"))
        #expect(RequestTarget.normalize("/a%5Cadmin") == .refused(.badRequest, reason: "encoded backslash in the path"))
        for uri in ["/public/..;/admin", "/public/.;x/admin", "/public/%2e%2e;/admin"] {
            #expect(RequestTarget.normalize(uri) == .refused(.badRequest, reason: "a . or .. segment with ; parameters in the path"), "\(uri)")
        }
        #expect(RequestTarget.normalize("/a;jsessionid=1/b") == .unchanged)
    }

    @Test("with allow_encoded_slashes, an encoded slash stays encoded and is no separator")
    func encodedSlashesAllowed() {
        #expect(RequestTarget.normalize("/group%2Fproject/raw", allowEncodedSlashes: true) == .unchanged)
        #expect(RequestTarget.normalize("/a%2fb/./c", allowEncodedSlashes: true) == .normalized("/a%2fb/c"))
        // `..%2F..` is one segment, not two climbs.
        #expect(RequestTarget.normalize("/x/..%2F..%2Fetc", allowEncodedSlashes: true) == .unchanged)
        #expect(RequestTarget.normalize("/a%2F%00", allowEncodedSlashes: true) == .refused(.badRequest, reason: "encoded NUL in the path"))
    }
}
