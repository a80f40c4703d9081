/// The one line a user sees when a port cannot be bound because something holds it.
public enum PortInUseMessage {
    /// "port 8443 is already in use by nginx (pid 1234: nginx -g …); stop it or choose another port with --https-port".
    public static func text(port: Int, address: String, role: String, flag: String?) -> String {
        var message = "cannot listen on \(address):\(port) for \(role): the port is already in use"
        if let holder = PortHolder.find(port: port) {
            message += " by \(holder)"
        }
        message += "; stop that process"
        if let flag { message += " or choose another port with \(flag)" }
        return message
    }
}
