/// Finds the later occurrences of keys YAML found twice in one block mapping, so each is
/// reported at its own line and the rest of the file can still be checked without them.
/// YAML parsers stop at the first duplicate and point at its first occurrence.
enum DuplicateKeys {
    /// One key given again, and the text with that later entry (and its nested block) blanked out.
    struct Finding {
        var issues: [ConfigurationIssue]
        /// The YAML with every later occurrence replaced by empty lines (line numbers unchanged).
        var remainingYAML: String
    }

    /// `keys` were found twice in the mapping whose first such key starts at `line`/`column`
    /// (1-based). Returns nil when no later occurrence is found in block style (a flow mapping).
    static func locate(keys: [String], line: Int, column: Int, yaml: String, source: String) -> Finding? {
        var lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let indent = column - 1
        guard line >= 1, line <= lines.count, indent >= 0 else { return nil }
        var firstAt: [String: Int] = [:]
        var issues: [ConfigurationIssue] = []
        var index = line - 1
        while index < lines.count {
            let text = lines[index]
            let leading = text.prefix { $0 == " " }.count
            let blank = text.allSatisfy { $0 == " " || $0 == "\r" || $0 == "\t" } || text.dropFirst(leading).hasPrefix("#")
            if index > line - 1, !blank, leading < indent { break }
            guard !blank, leading == indent || index == line - 1, let key = keyName(in: text, at: indent),
                  keys.contains(key) else {
                index += 1
                continue
            }
            guard let first = firstAt[key] else {
                firstAt[key] = index + 1
                index += 1
                continue
            }
            issues.append(ConfigurationIssue(source: source, line: index + 1, column: column,
                                             message: "duplicate key '\(key)': it is also set at line \(first); keep one"))
            // Blank the entry and every deeper line under it.
            lines[index] = ""
            index += 1
            while index < lines.count {
                let nested = lines[index]
                let nestedLeading = nested.prefix { $0 == " " }.count
                let nestedBlank = nested.allSatisfy { $0 == " " || $0 == "\r" || $0 == "\t" }
                if !nestedBlank, nestedLeading <= indent { break }
                lines[index] = ""
                index += 1
            }
        }
        guard !issues.isEmpty else { return nil }
        return Finding(issues: issues, remainingYAML: lines.joined(separator: "\n"))
    }

    /// The plain or quoted key that starts at `indent` in `line` and is followed by a colon.
    private static func keyName(in line: String, at indent: Int) -> String? {
        let characters = Array(line)
        guard indent < characters.count else { return nil }
        var rest = characters[indent...]
        var key = ""
        if let quote = rest.first, quote == "\"" || quote == "'" {
            rest = rest.dropFirst()
            guard let end = rest.firstIndex(of: quote) else { return nil }
            key = String(rest[..<end])
            rest = rest[(end + 1)...]
        } else {
            guard let end = rest.firstIndex(of: ":") else { return nil }
            key = String(rest[..<end]).trimmingTrailingSpaces()
            rest = rest[end...]
        }
        let afterKey = rest.drop { $0 == " " }
        guard afterKey.first == ":", !key.isEmpty else { return nil }
        let next = afterKey.dropFirst().first
        guard next == nil || next == " " || next == "\r" || next == "\t" else { return nil }
        return key
    }
}

private extension String {
    func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
