/// The Brazilian company registration number: 14 digits, the last two check digits.
public enum CNPJ {
    /// The 14 digits of `text` (punctuation `.`, `/`, `-` and spaces allowed) when the check
    /// digits are right; nil otherwise.
    public static func normalized(_ text: String) -> String? {
        let allowed = Set("./- ")
        guard text.allSatisfy({ $0.isASCII && ($0.isNumber || allowed.contains($0)) }) else { return nil }
        let digits = text.compactMap { $0.wholeNumberValue }
        guard digits.count == 14, Set(digits).count > 1 else { return nil }
        guard checkDigit(digits[0..<12]) == digits[12], checkDigit(digits[0..<13]) == digits[13] else { return nil }
        return digits.map(String.init).joined()
    }

    /// A valid CNPJ for fictional data: eight random digits, branch `0001`, and its check digits.
    public static func random(using generator: inout some RandomNumberGenerator) -> String {
        var digits = (0..<8).map { _ in Int.random(in: 0...9, using: &generator) } + [0, 0, 0, 1]
        if Set(digits).count == 1 { digits[0] = (digits[0] + 1) % 10 }
        digits.append(checkDigit(digits[0..<12]))
        digits.append(checkDigit(digits[0..<13]))
        return digits.map(String.init).joined()
    }

    /// Weights 2...9 repeated from the right; remainder under 2 gives 0, else 11 minus it.
    private static func checkDigit(_ digits: ArraySlice<Int>) -> Int {
        var weight = 2, sum = 0
        for digit in digits.reversed() {
            sum += digit * weight
            weight = weight == 9 ? 2 : weight + 1
        }
        let remainder = sum % 11
        return remainder < 2 ? 0 : 11 - remainder
    }
}
