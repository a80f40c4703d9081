/// Media types by file extension, for `Content-Type` of static files.
enum MediaTypes {
    static let byExtension: [String: String] = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
        "js": "application/javascript; charset=utf-8", "mjs": "application/javascript; charset=utf-8",
        "json": "application/json", "xml": "application/xml", "txt": "text/plain; charset=utf-8",
        "csv": "text/csv; charset=utf-8", "md": "text/markdown; charset=utf-8",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
        "svg": "image/svg+xml", "ico": "image/x-icon", "avif": "image/avif",
        "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
        "pdf": "application/pdf", "zip": "application/zip", "gz": "application/gzip",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "mp4": "video/mp4", "webm": "video/webm", "mp3": "audio/mpeg", "wasm": "application/wasm",
        "map": "application/json", "webmanifest": "application/manifest+json", "jsonld": "application/ld+json",
        "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff", "apng": "image/apng",
        "xls": "application/vnd.ms-excel", "doc": "application/msword", "ppt": "application/vnd.ms-powerpoint",
        "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt": "application/vnd.oasis.opendocument.text", "ods": "application/vnd.oasis.opendocument.spreadsheet",
        "odp": "application/vnd.oasis.opendocument.presentation", "rtf": "application/rtf",
        "tar": "application/x-tar", "tgz": "application/gzip", "bz2": "application/x-bzip2", "xz": "application/x-xz",
        "7z": "application/x-7z-compressed", "rar": "application/vnd.rar", "ics": "text/calendar; charset=utf-8",
        "ogg": "audio/ogg", "wav": "audio/wav", "m4a": "audio/mp4",
        "xhtml": "application/xhtml+xml", "atom": "application/atom+xml", "rss": "application/rss+xml",
        "eot": "application/vnd.ms-fontobject", "mpg": "video/mpeg", "mpeg": "video/mpeg", "mov": "video/quicktime",
        "avi": "video/x-msvideo", "oga": "audio/ogg", "ogv": "video/ogg", "flac": "audio/flac", "aac": "audio/aac",
        "jar": "application/java-archive", "eml": "message/rfc822", "vcf": "text/vcard; charset=utf-8",
        "xsl": "application/xslt+xml", "yaml": "application/yaml", "yml": "application/yaml",
        "jxl": "image/jxl", "heic": "image/heic", "zst": "application/zstd", "swf": "application/x-shockwave-flash",
    ]

    static func type(forFile name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "application/octet-stream" }
        return byExtension[name[name.index(after: dot)...].lowercased()] ?? "application/octet-stream"
    }

    /// True for types whose bodies are compressed already (images other than SVG, audio, video,
    /// fonts in WOFF, archives, PDF, office files): gzip gains nothing on them.
    static func isAlreadyCompressed(_ type: String) -> Bool {
        let type = essence(type)
        if type == "image/svg+xml" || type == "image/bmp" || type == "image/x-icon" { return false }
        for prefix in ["image/", "audio/", "video/", "font/woff"] where type.hasPrefix(prefix) { return true }
        return [
            "application/zip", "application/gzip", "application/x-gzip", "application/x-bzip2", "application/x-xz",
            "application/x-7z-compressed", "application/vnd.rar", "application/x-rar-compressed", "application/pdf",
            "application/zstd", "application/x-zstd", "application/java-archive",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
        ].contains(type)
    }

    /// The type without parameters (`text/css`).
    static func essence(_ type: String) -> String {
        // Most types are already bare and lowercase: return them as they are.
        if !type.utf8.contains(where: { $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t")
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) {
            return type
        }
        return String(type.split(separator: ";").first ?? Substring(type)).trimmingASCIISpaces().lowercased()
    }
}
