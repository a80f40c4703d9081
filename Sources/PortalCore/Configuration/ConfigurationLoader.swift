import Foundation
import Yams

/// Reads a `PortalConfiguration` from a YAML file and `PORTAL_…` environment variables,
/// reporting every problem with its place instead of stopping at the first.
public enum ConfigurationLoader {
    /// Loads `file` (or only defaults and environment when nil).
    public static func load(
        file: String?,
        environment: [String: String]? = nil
    ) throws(ConfigurationError) -> PortalConfiguration {
        let environment = environment ?? ProcessInfo.processInfo.environment
        guard let file else {
            return try parse(yaml: "", source: "defaults", environment: environment)
        }
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            guard let decoded = String(data: data, encoding: .utf8) else {
                throw ConfigurationError("the file is not valid UTF-8 text", source: file)
            }
            text = decoded
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError("cannot read the configuration file: \(Self.reason(error))", source: file)
        }
        return try parse(yaml: text, source: file, environment: environment)
    }

    /// Parses YAML text; `source` names it in messages.
    public static func parse(
        yaml: String,
        source: String,
        environment: [String: String] = [:]
    ) throws(ConfigurationError) -> PortalConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch YamlError.duplicatedKeysInMapping(let keys, let context) {
            // Each later occurrence is named at its line; the rest of the file is checked without
            // them, so one duplicate does not hide the other mistakes.
            guard let finding = DuplicateKeys.locate(keys: keys, line: context.mark.line, column: context.mark.column,
                                                     yaml: yaml, source: source) else {
                throw ConfigurationError(issues: [ConfigurationIssue(
                    source: source, line: context.mark.line, column: context.mark.column,
                    message: "duplicate keys: \(keys.joined(separator: ", "))")])
            }
            var issues = finding.issues
            do throws(ConfigurationError) {
                _ = try parse(yaml: finding.remainingYAML, source: source, environment: environment)
            } catch {
                issues += error.issues
            }
            throw ConfigurationError(issues: ordered(issues))
        } catch {
            throw ConfigurationError(issues: [syntaxIssue(error, source: source)])
        }
        let diagnostics = ConfigDiagnostics(source: source)
        var top = ConfigSection(path: [], node: root, diagnostics: diagnostics, environment: environment)
        let configuration = ConfigurationSchema.read(&top)
        top.finish()
        for name in environment.keys.sorted() where name.hasPrefix("PORTAL_") && !Self.isReservedEnvironmentName(name) {
            if !diagnostics.knownEnvironmentNames.contains(name) {
                var message = "not a configuration setting (see docs/configuration.md)"
                if let suggestion = ConfigSection.closest(to: name, in: diagnostics.knownEnvironmentNames.sorted()) {
                    message += "; did you mean \(suggestion)?"
                }
                diagnostics.reportEnvironment(name, message)
            }
        }
        ConfigurationSchema.validate(configuration, diagnostics: diagnostics)
        guard diagnostics.issues.isEmpty else {
            throw ConfigurationError(issues: ordered(diagnostics.issues))
        }
        return configuration
    }

    /// File order reads best; issues without a line (environment, cross-key rules) come last.
    static func ordered(_ issues: [ConfigurationIssue]) -> [ConfigurationIssue] {
        issues.enumerated().sorted { lhs, rhs in
            let left = (lhs.element.line ?? Int.max, lhs.element.column ?? 0, lhs.offset)
            let right = (rhs.element.line ?? Int.max, rhs.element.column ?? 0, rhs.offset)
            return left < right
        }.map(\.element)
    }

    /// Variables that carry secrets or process wiring rather than settings.
    static func isReservedEnvironmentName(_ name: String) -> Bool {
        name.hasSuffix("_FILE") || name.hasPrefix("PORTAL_SECRET_") || name.hasPrefix("PORTAL_INTERNAL_")
    }

    static func syntaxIssue(_ error: any Error, source: String) -> ConfigurationIssue {
        if let yamlError = error as? YamlError {
            switch yamlError {
            case .scanner(let context, let problem, let mark, _),
                 .parser(let context, let problem, let mark, _),
                 .composer(let context, let problem, let mark, _):
                var message = "YAML syntax error: \(problem)"
                if let context { message += " (\(context.text) at line \(context.mark.line))" }
                return ConfigurationIssue(source: source, line: mark.line, column: mark.column, message: message)
            default:
                return ConfigurationIssue(source: source, message: "YAML error: \(yamlError)")
            }
        }
        return ConfigurationIssue(source: source, message: "cannot parse: \(error)")
    }

    static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError,
           underlying.domain == NSPOSIXErrorDomain, let code = POSIXErrorCode(rawValue: Int32(underlying.code)) {
            return String(cString: strerror(code.rawValue))
        }
        return nsError.localizedDescription
    }
}
