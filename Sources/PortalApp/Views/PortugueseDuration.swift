/// A wait written for people: "1 segundo", "45 segundos", "4 minutos".
enum PortugueseDuration {
    static func text(seconds: Int) -> String {
        if seconds < 120 { return seconds == 1 ? "1 segundo" : "\(seconds) segundos" }
        return "\((seconds + 59) / 60) minutos"
    }
}
