/// One problem found in a configuration: where it is and what was expected.
public struct ConfigurationIssue: Sendable, Equatable, CustomStringConvertible {
    /// The file name, or `environment` for a `PORTAL_…` variable, or `command line`.
    public var source: String
    /// 1-based line in `source`, when known.
    public var line: Int?
    /// 1-based column in `source`, when known.
    public var column: Int?
    /// What was wrong and what was expected.
    public var message: String

    public init(source: String, line: Int? = nil, column: Int? = nil, message: String) {
        self.source = source
        self.line = line
        self.column = column
        self.message = message
    }

    /// `file:line:column: message`, the form compilers and `httpd -t` use.
    public var description: String {
        var location = source
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        return "\(location): \(message)"
    }
}

/// A configuration that cannot be used, with every problem found in it.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// Every problem, in the order found.
    public var issues: [ConfigurationIssue]

    public init(issues: [ConfigurationIssue]) {
        self.issues = issues
    }

    public init(_ message: String, source: String = "configuration") {
        self.issues = [ConfigurationIssue(source: source, message: message)]
    }

    public var description: String {
        issues.map(\.description).joined(separator: "\n")
    }
}
