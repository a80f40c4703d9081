import Foundation

/// URLs of outside services the portal talks to (the OpenID provider): `https://`, or plain
/// `http://` only to this machine, where nothing travels over a network.
public enum ProviderURL {
    public static func isSecureOrLoopback(_ text: String) -> Bool {
        guard let url = URL(string: text), let host = url.host, !host.isEmpty else { return false }
        switch url.scheme?.lowercased() {
        case "https": return true
        case "http": return host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
        default: return false
        }
    }
}
