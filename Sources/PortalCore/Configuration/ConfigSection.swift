import Foundation
import Yams

/// Collects the problems found while reading one configuration.
final class ConfigDiagnostics {
    let source: String
    private(set) var issues: [ConfigurationIssue] = []
    /// Every `PORTAL_…` variable name a reader looked at.
    private(set) var knownEnvironmentNames: Set<String> = []
    /// Where some values sit in the file (`edge.sites[1].hosts[0]`), for rules checked after reading.
    private var places: [String: Mark] = [:]

    init(source: String) {
        self.source = source
    }

    func report(_ message: String, at mark: Mark?) {
        issues.append(ConfigurationIssue(source: source, line: mark?.line, column: mark?.column, message: message))
    }

    func notePlace(_ path: String, _ mark: Mark?) {
        if let mark { places[path] = mark }
    }

    /// Where `path` was noted, if it came from the file.
    func place(_ path: String) -> Mark? {
        places[path]
    }

    func reportEnvironment(_ name: String, _ message: String) {
        issues.append(ConfigurationIssue(source: "environment", message: "\(name): \(message)"))
    }

    func noteEnvironmentName(_ name: String) {
        knownEnvironmentNames.insert(name)
    }
}

/// A value type that a configuration key can hold, read from YAML or from an environment variable.
protocol ConfigValue {
    /// What the reader expected, for error messages ("an integer").
    static var expectation: String { get }
    init?(yaml node: Node)
    init?(environment text: String)
}

extension Int: ConfigValue {
    static var expectation: String { "an integer" }
    init?(yaml node: Node) {
        guard case .scalar(let scalar) = node, node.tag.rawValue == Tag.Name.int.rawValue,
              let value = Int(scalar.string.replacingOccurrences(of: "_", with: ""))
        else { return nil }
        self = value
    }
    init?(environment text: String) {
        self.init(text.trimmingCharacters(in: .whitespaces))
    }
}

extension Bool: ConfigValue {
    static var expectation: String { "true or false" }
    init?(yaml node: Node) {
        guard node.tag.rawValue == Tag.Name.bool.rawValue, let value = node.bool else { return nil }
        self = value
    }
    init?(environment text: String) {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "on", "1": self = true
        case "false", "no", "off", "0": self = false
        default: return nil
        }
    }
}

extension String: ConfigValue {
    static var expectation: String { "a string" }
    init?(yaml node: Node) {
        guard case .scalar(let scalar) = node, node.tag.rawValue != Tag.Name.null.rawValue else { return nil }
        self = scalar.string
    }
    init?(environment text: String) {
        self = text
    }
}

extension Array: ConfigValue where Element == String {
    static var expectation: String { "a list of strings, e.g. [\"127.0.0.1\"]" }
    init?(yaml node: Node) {
        guard case .sequence(let sequence) = node else { return nil }
        var items: [String] = []
        for item in sequence {
            guard let text = String(yaml: item) else { return nil }
            items.append(text)
        }
        self = items
    }
    init?(environment text: String) {
        self = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// One mapping of the configuration file (the top level or a section such as `edge:`),
/// read key by key with type checks; keys nobody asked for are reported by `finish()`.
struct ConfigSection {
    let path: [String]
    let mapping: Node.Mapping?
    let mark: Mark?
    let diagnostics: ConfigDiagnostics
    let environment: [String: String]
    private var seenKeys: Set<String> = []

    init(path: [String], node: Node?, diagnostics: ConfigDiagnostics, environment: [String: String]) {
        self.path = path
        self.diagnostics = diagnostics
        self.environment = environment
        self.mark = node?.mark
        switch node {
        case .mapping(let mapping)?:
            self.mapping = mapping
            reportDuplicates(in: mapping)
        case nil:
            self.mapping = nil
        case .scalar(let scalar)? where scalar.tag.rawValue == Tag.Name.null.rawValue || scalar.string.isEmpty:
            self.mapping = nil
        case let other?:
            self.mapping = nil
            diagnostics.report("'\(path.joined(separator: "."))' must be a section of keys, not \(Self.describe(other))",
                               at: other.mark)
        }
    }

    private func reportDuplicates(in mapping: Node.Mapping) {
        var seen: Set<String> = []
        for (key, _) in mapping {
            guard let name = key.string else { continue }
            if !seen.insert(name).inserted {
                diagnostics.report("duplicate key '\(qualified(name))'", at: key.mark)
            }
        }
    }

    func qualified(_ key: String) -> String {
        (path + [key]).joined(separator: ".")
    }

    /// `PORTAL_EDGE_HTTP_PORT` for `edge.http_port`.
    func environmentName(_ key: String) -> String {
        "PORTAL_" + (path + [key]).joined(separator: "_").uppercased()
    }

    private func node(for key: String) -> Node? {
        mapping?.first(where: { $0.key.string == key })?.value
    }

    /// Reads `key` (or its environment variable), checking type and the given rule.
    mutating func read<Value: ConfigValue>(
        _ key: String,
        default defaultValue: Value,
        rule: String? = nil,
        isValid: (Value) -> Bool = { _ in true }
    ) -> Value {
        readWrapped(key, rule: rule, isValid: isValid) ?? defaultValue
    }

    /// Reads an optional `key`: absent or `null` gives nil.
    mutating func readOptional<Value: ConfigValue>(
        _ key: String,
        rule: String? = nil,
        isValid: (Value) -> Bool = { _ in true }
    ) -> Value? {
        if environment[environmentName(key)] == nil,
           let node = node(for: key), node.tag.rawValue == Tag.Name.null.rawValue {
            seenKeys.insert(key)
            return nil
        }
        return readWrapped(key, rule: rule, isValid: isValid)
    }

    private mutating func readWrapped<Value: ConfigValue>(
        _ key: String, rule: String?, isValid: (Value) -> Bool
    ) -> Value? {
        seenKeys.insert(key)
        let envName = environmentName(key)
        diagnostics.noteEnvironmentName(envName)
        let expectation = rule ?? Value.expectation
        if let text = environment[envName] {
            guard let value = Value(environment: text), isValid(value) else {
                diagnostics.reportEnvironment(envName, "expected \(expectation), got '\(text)'")
                return nil
            }
            return value
        }
        guard let node = node(for: key) else { return nil }
        guard let value = Value(yaml: node), isValid(value) else {
            // In a list, name the entries at fault, each at its own place in the file.
            if case .sequence(let sequence) = node, Value.self == [String].self {
                var reported = false
                for (index, item) in sequence.enumerated() {
                    guard let text = String(yaml: item), let single = [text] as? Value, isValid(single) else {
                        diagnostics.report("'\(qualified(key))[\(index)]' is \(Self.describe(item)), which does not fit: "
                                           + "'\(qualified(key))' must be \(expectation)", at: item.mark)
                        reported = true
                        continue
                    }
                }
                if reported { return nil }
            }
            diagnostics.report("'\(qualified(key))' must be \(expectation), got \(Self.describe(node))", at: node.mark)
            return nil
        }
        return value
    }

    /// Notes where `key`'s value sits, and each item's place when it is a list, so rules that
    /// span sections can point at the line (`edge.sites[1].hosts[0]`).
    func notePlaces(of key: String) {
        guard let node = node(for: key) else { return }
        diagnostics.notePlace(qualified(key), node.mark)
        if case .sequence(let sequence) = node {
            for (index, item) in sequence.enumerated() {
                diagnostics.notePlace(qualified(key) + "[\(index)]", item.mark)
            }
        }
    }

    /// `file:line:column` of `key`'s value, when it came from the file (for problems found
    /// after reading, such as a certificate file that cannot be used).
    func placeText(of key: String) -> String? {
        guard let mark = node(for: key)?.mark else { return nil }
        return "\(diagnostics.source):\(mark.line):\(mark.column)"
    }

    /// The line of `key`'s value in the file, when it came from there.
    func line(of key: String) -> Int? {
        node(for: key)?.mark?.line
    }

    /// True when the file has `key` in this section.
    func hasKey(_ key: String) -> Bool {
        node(for: key) != nil
    }

    /// True when `key` holds a section of keys rather than a single value.
    func holdsSection(_ key: String) -> Bool {
        if case .mapping? = node(for: key) { return true }
        return false
    }

    /// Reports `key` of this section as wrong, at its place in the file; `problem` follows the key's name.
    mutating func reportKey(_ key: String, _ problem: String) {
        seenKeys.insert(key)
        diagnostics.report("'\(qualified(key))' \(problem)", at: node(for: key)?.mark ?? mark)
    }

    /// The nested section under `key`.
    mutating func section(_ key: String) -> ConfigSection {
        seenKeys.insert(key)
        return ConfigSection(path: path + [key], node: node(for: key), diagnostics: diagnostics, environment: environment)
    }

    /// The list of sections under `key` (`sites:` holds one mapping per site). Environment
    /// variables do not reach inside lists.
    mutating func sectionList(_ key: String) -> [ConfigSection] {
        seenKeys.insert(key)
        guard let node = node(for: key) else { return [] }
        if node.tag.rawValue == Tag.Name.null.rawValue { return [] }
        guard case .sequence(let sequence) = node else {
            diagnostics.report("'\(qualified(key))' must be a list of sections (each item starting with '- ')",
                               at: node.mark)
            return []
        }
        return sequence.enumerated().map { index, item in
            ConfigSection(path: path + ["\(key)[\(index)]"], node: item, diagnostics: diagnostics, environment: [:])
        }
    }

    /// A mapping of header names to values under `key` (`set: {X-Frame-Options: DENY}`), in
    /// file order; names must be HTTP tokens and values must not hold line breaks.
    mutating func readHeaderMap(_ key: String) -> [(String, String)] {
        seenKeys.insert(key)
        guard let node = node(for: key), node.tag.rawValue != Tag.Name.null.rawValue else { return [] }
        guard case .mapping(let mapping) = node else {
            diagnostics.report("'\(qualified(key))' must be a section of header names and values", at: node.mark)
            return []
        }
        var pairs: [(String, String)] = []
        for (nameNode, valueNode) in mapping {
            guard let name = nameNode.string, Self.isHeaderName(name) else {
                diagnostics.report("'\(qualified(key))': '\(nameNode.string ?? "?")' is not a valid header name", at: nameNode.mark)
                continue
            }
            guard case .scalar(let scalar) = valueNode, !scalar.string.contains(where: { $0 == "\r" || $0 == "\n" }) else {
                diagnostics.report("'\(qualified(key)).\(name)' must be a single-line text value", at: valueNode.mark)
                continue
            }
            pairs.append((name, scalar.string))
        }
        return pairs
    }

    /// A list of header names under `key` (`unset: [X-Powered-By]`).
    mutating func readHeaderNames(_ key: String) -> [String] {
        read(key, default: [], rule: "a list of header names", isValid: { $0.allSatisfy(Self.isHeaderName) })
    }

    static func isHeaderName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// Every key of this section as a media type with a duration (`text/css: 30d`), for
    /// tables whose keys are data rather than settings.
    mutating func readDurations() -> [(String, Int)] {
        guard let mapping else { return [] }
        var result: [(String, Int)] = []
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.string, key.contains("/") else {
                diagnostics.report("'\(path.joined(separator: "."))': '\(keyNode.string ?? "?")' is not a media type such as text/css", at: keyNode.mark)
                continue
            }
            seenKeys.insert(key)
            guard case .scalar(let scalar) = valueNode, let seconds = Self.duration(scalar.string) else {
                diagnostics.report("'\(qualified(key))' must be a duration such as 3600, 30d or 1y (at most 10y)", at: valueNode.mark)
                continue
            }
            result.append((key.lowercased(), seconds))
        }
        return result
    }

    /// A map section reports nothing unknown: every key was data.
    func finishAsMap() {}

    /// `3600`, `90s`, `15m`, `12h`, `30d`, `1y` in seconds.
    /// At most ten years, as every cache lifetime needs.
    static func duration(_ text: String) -> Int? {
        let limit = 10 * 365 * 86_400
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let seconds = Int(trimmed), seconds >= 0 { return seconds <= limit ? seconds : nil }
        guard let unit = trimmed.last, let number = Int(trimmed.dropLast()), number >= 0 else { return nil }
        let multiplier: Int
        switch unit {
        case "s": multiplier = 1
        case "m": multiplier = 60
        case "h": multiplier = 3600
        case "d": multiplier = 86_400
        case "y": multiplier = 365 * 86_400
        default: return nil
        }
        let (seconds, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return !overflow && seconds <= limit ? seconds : nil
    }

    /// True when `key` is written in this section.
    func has(_ key: String) -> Bool {
        node(for: key) != nil
    }

    /// True when the section has no keys at all.
    var isEmpty: Bool { mapping?.isEmpty ?? true }

    /// Reports a problem about `key` at its place in the file (or at this section when absent).
    func report(_ message: String, key: String? = nil) {
        let mark = key.flatMap { node(for: $0)?.mark } ?? self.mark
        diagnostics.report(message, at: mark)
    }

    /// Reports every key of this mapping that no reader asked for.
    func finish() {
        guard let mapping else { return }
        let known = Array(seenKeys)
        for (key, _) in mapping {
            guard let name = key.string else {
                diagnostics.report("keys must be plain names", at: key.mark)
                continue
            }
            if seenKeys.contains(name) { continue }
            var message = "unknown key '\(qualified(name))'"
            if let suggestion = Self.closest(to: name, in: known) {
                message += "; did you mean '\(qualified(suggestion))'?"
            } else if !known.isEmpty {
                message += "; expected one of: \(known.sorted().joined(separator: ", "))"
            }
            diagnostics.report(message, at: key.mark)
        }
    }

    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: return "nothing (null)"
            case Tag.Name.int.rawValue: return "the integer \(scalar.string)"
            case Tag.Name.bool.rawValue: return "the boolean \(scalar.string)"
            case Tag.Name.float.rawValue: return "the number \(scalar.string)"
            default:
                // `"8080"`: a number in quotes is text to YAML, which a reader easily misses.
                if scalar.style == .singleQuoted || scalar.style == .doubleQuoted,
                   Int(scalar.string) != nil || scalar.string == "true" || scalar.string == "false" {
                    return "the quoted text '\(scalar.string)' (write it without quotes)"
                }
                return "'\(scalar.string)'"
            }
        case .mapping: return "a section of keys"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// The known key within edit distance 2 of `name`, if any.
    static func closest(to name: String, in candidates: [String]) -> String? {
        candidates
            .map { ($0, EditDistance.between(name, $0)) }
            .filter { $0.1 <= 2 }
            .min(by: { $0.1 < $1.1 })?.0
    }
}

/// A duration in seconds, written as a number of seconds or with a unit: `90s`, `15m`, `12h`, `30d`.
struct DurationSeconds: ConfigValue, Equatable {
    let seconds: Int

    init(seconds: Int) {
        self.seconds = seconds
    }

    static var expectation: String { "a duration such as 3600, 90s, 15m, 12h or 30d" }

    init?(yaml node: Node) {
        guard case .scalar(let scalar) = node, node.tag.rawValue != Tag.Name.null.rawValue else { return nil }
        self.init(environment: scalar.string)
    }

    init?(environment text: String) {
        guard let seconds = ConfigSection.duration(text) else { return nil }
        self.seconds = seconds
    }
}

/// A size in bytes, written as a number of bytes or with a unit: `512k`, `10MB`, `1g`.
struct ByteSize: ConfigValue, Equatable {
    let bytes: Int

    init(bytesValue: Int) {
        self.bytes = bytesValue
    }

    static var expectation: String { "a size such as 1048576, 512k, 10MB or 1g" }

    init?(yaml node: Node) {
        guard case .scalar(let scalar) = node, node.tag.rawValue != Tag.Name.null.rawValue else { return nil }
        self.init(environment: scalar.string)
    }

    init?(environment text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = trimmed.prefix { $0.isNumber }
        guard !digits.isEmpty, let number = Int(digits) else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let multiplier: Int
        switch unit {
        case "", "b": multiplier = 1
        case "k", "kb", "kib": multiplier = 1024
        case "m", "mb", "mib": multiplier = 1024 * 1024
        case "g", "gb", "gib": multiplier = 1024 * 1024 * 1024
        default: return nil
        }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        self.bytes = product
    }
}
