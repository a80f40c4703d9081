#if MARIADB
import Foundation
import MariaDB

/// Captures one Encodable as a connector value; values that need a keyed or unkeyed container
/// (JSON fields) are flagged and stored as JSON text by `MariaDBBind`.
final class MariaDBValueEncoder: Encoder, SingleValueEncodingContainer {
    var result: MariaDBValue?
    var needsJSON = false
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        needsJSON = true
        return KeyedEncodingContainer(IgnoringKeyedContainer<Key>())
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        needsJSON = true
        return IgnoringUnkeyedContainer()
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    func encodeNil() throws { result = .null }
    func encode(_ value: Bool) throws { result = .int(value ? 1 : 0) }
    func encode(_ value: String) throws { result = .text(value) }
    func encode(_ value: Double) throws { result = .double(value) }
    func encode(_ value: Float) throws { result = .double(Double(value)) }
    func encode(_ value: Int) throws { result = .int(Int64(value)) }
    func encode(_ value: Int8) throws { result = .int(Int64(value)) }
    func encode(_ value: Int16) throws { result = .int(Int64(value)) }
    func encode(_ value: Int32) throws { result = .int(Int64(value)) }
    func encode(_ value: Int64) throws { result = .int(value) }
    func encode(_ value: UInt) throws { result = .unsigned(UInt64(value)) }
    func encode(_ value: UInt8) throws { result = .unsigned(UInt64(value)) }
    func encode(_ value: UInt16) throws { result = .unsigned(UInt64(value)) }
    func encode(_ value: UInt32) throws { result = .unsigned(UInt64(value)) }
    func encode(_ value: UInt64) throws { result = .unsigned(value) }

    func encode<T: Encodable>(_ value: T) throws {
        switch value {
        case let date as Date: result = .datetime(date)
        case let data as Data: result = .bytes(Array(data))
        case let uuid as UUID: result = .text(uuid.uuidString)
        case let decimal as Decimal: result = .decimal("\(decimal)")
        default: try value.encode(to: self)
        }
    }

    private struct IgnoringKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
        var codingPath: [any CodingKey] = []
        mutating func encodeNil(forKey key: Key) throws {}
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {}
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey> { KeyedEncodingContainer(IgnoringKeyedContainer<NestedKey>()) }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { IgnoringUnkeyedContainer() }
        mutating func superEncoder() -> any Encoder { MariaDBValueEncoder() }
        mutating func superEncoder(forKey key: Key) -> any Encoder { MariaDBValueEncoder() }
    }

    private struct IgnoringUnkeyedContainer: UnkeyedEncodingContainer {
        var codingPath: [any CodingKey] = []
        var count = 0
        mutating func encodeNil() throws {}
        mutating func encode<T: Encodable>(_ value: T) throws {}
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            KeyedEncodingContainer(IgnoringKeyedContainer<NestedKey>())
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { IgnoringUnkeyedContainer() }
        mutating func superEncoder() -> any Encoder { MariaDBValueEncoder() }
    }
}

/// Reads one column's value as the type a model or query asks for.
struct MariaDBValueDecoder: Decoder, SingleValueDecodingContainer {
    let value: MariaDBValue
    let column: String
    var codingPath: [any CodingKey] { [MariaDBColumnKey(column)] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        switch T.self {
        case is Date.Type:
            switch value {
            case .datetime(let date): if let result = date as? T { return result }
            case .date(let year, let month, let day):
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
                if let date = calendar.date(from: DateComponents(year: year, month: month, day: day)), let result = date as? T {
                    return result
                }
            default: break
            }
            throw mismatch(type)
        case is Data.Type:
            if case .bytes(let bytes) = value, let result = Data(bytes) as? T { return result }
            if case .text(let text) = value, let result = Data(text.utf8) as? T { return result }
            throw mismatch(type)
        case is UUID.Type:
            if let text = value.text, let uuid = UUID(uuidString: text), let result = uuid as? T { return result }
            throw mismatch(type)
        case is Decimal.Type:
            if let text = value.text, let decimal = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")),
               let result = decimal as? T { return result }
            throw mismatch(type)
        default:
            return try T(from: self)
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard let text = value.text else { throw mismatch([String: String].self) }
        // JSON stored as text: decode it with a JSON decoder through a nested container.
        let decoded = try JSONDecoder().decode(JSONKeyed<Key>.self, from: Data(text.utf8))
        return decoded.container
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard let text = value.text else { throw mismatch([String].self) }
        return try JSONDecoder().decode(JSONUnkeyed.self, from: Data(text.utf8)).container
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { value == .null }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard let number = value.int else { throw mismatch(type) }
        return number != 0
    }

    func decode(_ type: String.Type) throws -> String {
        guard let text = value.text else { throw mismatch(type) }
        return text
    }

    func decode(_ type: Double.Type) throws -> Double {
        switch value {
        case .double(let number): return number
        case .int(let number): return Double(number)
        case .unsigned(let number): return Double(number)
        case .decimal(let text): if let number = Double(text) { return number }
        default: break
        }
        throw mismatch(type)
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    private func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        switch value {
        case .int(let number): if let result = I(exactly: number) { return result }
        case .unsigned(let number): if let result = I(exactly: number) { return result }
        case .decimal(let text), .text(let text): if let result = I(text) { return result }
        default: break
        }
        throw mismatch(type)
    }

    private func mismatch(_ type: Any.Type) -> DecodingError {
        DecodingError.typeMismatch(type, .init(codingPath: codingPath,
                                               debugDescription: "column \(column) holds \(value), not \(type)"))
    }
}

/// Carries an unkeyed container out of a JSON decoding.
private struct JSONUnkeyed: Decodable {
    let container: any UnkeyedDecodingContainer
    init(from decoder: any Decoder) throws {
        container = try decoder.unkeyedContainer()
    }
}

/// Carries a keyed container out of a JSON decoding.
private struct JSONKeyed<Key: CodingKey>: Decodable {
    let container: KeyedDecodingContainer<Key>
    init(from decoder: any Decoder) throws {
        container = try decoder.container(keyedBy: Key.self)
    }
}
#endif
