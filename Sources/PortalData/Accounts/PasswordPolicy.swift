import Foundation

/// What a password must be: at least 12 characters, not one of the passwords attackers try
/// first, not the user's e-mail or its name part, not a single repeated character.
public enum PasswordPolicy {
    public static let minimumLength = 12
    /// bcrypt reads only the first 72 bytes; a longer password would silently lose its tail.
    public static let maximumBytes = 72

    /// Why `password` is refused for the account `email`, or nil when it is acceptable.
    public static func problem(with password: String, email: String) -> String? {
        if password.count < minimumLength {
            return "the password must have at least \(minimumLength) characters (it has \(password.count))"
        }
        if password.utf8.count > maximumBytes {
            return "the password must have at most \(maximumBytes) bytes (bcrypt ignores the rest)"
        }
        let folded = password.lowercased()
        if Set(folded).count <= 2 {
            return "the password repeats one or two characters; choose a longer phrase"
        }
        let local = email.lowercased().split(separator: "@").first.map(String.init) ?? ""
        if folded == email.lowercased() || (local.count >= 4 && folded.contains(local)) {
            return "the password must not contain the e-mail address or its name part"
        }
        if commonPasswords.contains(folded) || commonPasswords.contains(String(folded.filter { !$0.isNumber })) {
            return "the password is on the list of common passwords; choose another"
        }
        return nil
    }

    /// Passwords of 12 or more characters (and their letter stems) that appear near the top of
    /// published password-leak statistics, plus words of this office's trade and the seed's keys.
    static let commonPasswords: Set<String> = [
        "123456789012", "1234567890123", "12345678901234", "123456789123", "098765432112",
        "111111111111", "000000000000", "121212121212", "123123123123", "112233445566",
        "qwertyuiop", "qwertyuiop123", "qwerty123456", "qwertyqwerty", "qwertyuiopasdfghjkl",
        "1q2w3e4r5t6y", "1qaz2wsx3edc", "zaq12wsxcde3", "q1w2e3r4t5y6", "asdfghjkl", "asdfghjkl123",
        "zxcvbnm", "abcdefghijkl", "abcdefghijklmn", "abc123456789", "abcd12345678",
        "password", "passwordpassword", "password1234", "password12345", "mypassword",
        "iloveyou", "iloveyouiloveyou", "letmein", "welcome", "changeme", "trustno1",
        "administrator", "admin", "adminadmin", "superuser", "football", "baseball",
        "princess", "sunshine", "starwars", "monkey", "dragon", "master", "shadow",
        "senha", "senhasenha", "minhasenha", "senhaforte", "mudar", "mudarsenha", "trocarsenha",
        "trocar", "brasil", "flamengo", "corinthians", "palmeiras", "saopaulo", "vasco",
        "portal", "portalweb", "administrador", "contabilidade", "contabil", "contador",
        "escritorio", "financeiro", "fiscal", "empresa", "teste", "testeteste",
        "ti02jpcontabil", "ti02jpcontabil_csrf", "tijpcontabil", "tijpcontabil_csrf",
    ]
}
