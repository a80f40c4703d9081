import CMariaDB
import Foundation

/// The `MYSQL_BIND` array for a statement's parameters, with the memory it points at; freed by
/// `release()` once the statement has run.
final class ParameterBinds {
    var binds: [MYSQL_BIND]
    private var allocations: [UnsafeMutableRawPointer] = []

    init(_ values: [MariaDBValue]) {
        binds = Array(repeating: MYSQL_BIND(), count: values.count)
        for (index, value) in values.enumerated() {
            switch value {
            case .null:
                binds[index].buffer_type = MYSQL_TYPE_NULL
            case .int(let number):
                place(number, at: index, type: MYSQL_TYPE_LONGLONG)
            case .unsigned(let number):
                place(number, at: index, type: MYSQL_TYPE_LONGLONG)
                binds[index].is_unsigned = 1
            case .double(let number):
                place(number, at: index, type: MYSQL_TYPE_DOUBLE)
            case .decimal(let text):
                placeBytes(Array(text.utf8), at: index, type: MYSQL_TYPE_NEWDECIMAL)
            case .text(let text):
                placeBytes(Array(text.utf8), at: index, type: MYSQL_TYPE_STRING)
            case .bytes(let bytes):
                placeBytes(bytes, at: index, type: MYSQL_TYPE_BLOB)
            case .date(let year, let month, let day):
                var time = MYSQL_TIME()
                time.year = UInt32(clamping: year)
                time.month = UInt32(clamping: month)
                time.day = UInt32(clamping: day)
                time.time_type = MYSQL_TIMESTAMP_DATE
                place(time, at: index, type: MYSQL_TYPE_DATE)
            case .datetime(let date):
                place(MariaDBTime.time(from: date), at: index, type: MYSQL_TYPE_DATETIME)
            }
        }
    }

    private func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 16)
        allocations.append(pointer)
        return pointer
    }

    private func place<T>(_ value: T, at index: Int, type: enum_field_types) {
        let pointer = allocate(MemoryLayout<T>.size)
        pointer.storeBytes(of: value, as: T.self)
        binds[index].buffer = pointer
        binds[index].buffer_length = UInt(MemoryLayout<T>.size)
        binds[index].buffer_type = type
    }

    private func placeBytes(_ bytes: [UInt8], at index: Int, type: enum_field_types) {
        let pointer = allocate(bytes.count)
        bytes.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(pointer), byteCount: bytes.count) }
        let length = allocate(MemoryLayout<UInt>.size).bindMemory(to: UInt.self, capacity: 1)
        length.pointee = UInt(bytes.count)
        binds[index].buffer = pointer
        binds[index].buffer_length = UInt(bytes.count)
        binds[index].length = length
        binds[index].buffer_type = type
    }

    func release() {
        for pointer in allocations { pointer.deallocate() }
        allocations = []
    }
}

/// The `MYSQL_BIND` array a statement's rows are fetched into: one buffer per column, sized by
/// the longest value (`STMT_ATTR_UPDATE_MAX_LENGTH`), and the conversion back to values.
final class ResultBinds {
    enum Kind {
        case integer(unsigned: Bool)
        case double
        case date
        case datetime
        case decimal
        case text
        case bytes
    }

    var binds: [MYSQL_BIND]
    let names: [String]
    private let kinds: [Kind]
    private var allocations: [UnsafeMutableRawPointer] = []
    private let lengths: UnsafeMutablePointer<UInt>
    private let nulls: UnsafeMutablePointer<my_bool>
    private let errors: UnsafeMutablePointer<my_bool>

    init(fields: UnsafeBufferPointer<MYSQL_FIELD>) {
        let count = fields.count
        binds = Array(repeating: MYSQL_BIND(), count: count)
        names = fields.map { $0.name.map { String(cString: $0) } ?? "" }
        lengths = .allocate(capacity: max(count, 1))
        nulls = .allocate(capacity: max(count, 1))
        errors = .allocate(capacity: max(count, 1))
        lengths.initialize(repeating: 0, count: max(count, 1))
        nulls.initialize(repeating: 0, count: max(count, 1))
        errors.initialize(repeating: 0, count: max(count, 1))
        var kinds: [Kind] = []
        for (index, field) in fields.enumerated() {
            let kind = Self.kind(of: field)
            kinds.append(kind)
            let size: Int
            let type: enum_field_types
            switch kind {
            case .integer(let unsigned):
                (size, type) = (8, MYSQL_TYPE_LONGLONG)
                binds[index].is_unsigned = unsigned ? 1 : 0
            case .double: (size, type) = (8, MYSQL_TYPE_DOUBLE)
            case .date: (size, type) = (MemoryLayout<MYSQL_TIME>.size, MYSQL_TYPE_DATE)
            case .datetime: (size, type) = (MemoryLayout<MYSQL_TIME>.size, MYSQL_TYPE_DATETIME)
            case .decimal, .text: (size, type) = (Int(field.max_length) + 1, MYSQL_TYPE_STRING)
            case .bytes: (size, type) = (Int(field.max_length) + 1, MYSQL_TYPE_BLOB)
            }
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 16)
            allocations.append(buffer)
            binds[index].buffer = buffer
            binds[index].buffer_length = UInt(max(size, 1))
            binds[index].buffer_type = type
            binds[index].length = lengths + index
            binds[index].is_null = nulls + index
            binds[index].error = errors + index
        }
        self.kinds = kinds
    }

    private static func kind(of field: MYSQL_FIELD) -> Kind {
        let unsigned = field.flags & UInt32(UNSIGNED_FLAG) != 0
        switch field.type {
        case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_LONG, MYSQL_TYPE_INT24, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_YEAR:
            return .integer(unsigned: unsigned)
        case MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE:
            return .double
        case MYSQL_TYPE_DATE, MYSQL_TYPE_NEWDATE:
            return .date
        case MYSQL_TYPE_DATETIME, MYSQL_TYPE_TIMESTAMP, MYSQL_TYPE_DATETIME2, MYSQL_TYPE_TIMESTAMP2:
            return .datetime
        case MYSQL_TYPE_DECIMAL, MYSQL_TYPE_NEWDECIMAL:
            return .decimal
        case MYSQL_TYPE_TINY_BLOB, MYSQL_TYPE_MEDIUM_BLOB, MYSQL_TYPE_LONG_BLOB, MYSQL_TYPE_BLOB, MYSQL_TYPE_VAR_STRING,
             MYSQL_TYPE_STRING, MYSQL_TYPE_VARCHAR, MYSQL_TYPE_BIT, MYSQL_TYPE_GEOMETRY:
            // Character set 63 is `binary`: BLOB and VARBINARY columns.
            return field.charsetnr == 63 ? .bytes : .text
        default:
            return .text
        }
    }

    /// The current row, after a successful `mysql_stmt_fetch`.
    func row() -> [MariaDBValue] {
        kinds.enumerated().map { index, kind in
            guard nulls[index] == 0, let buffer = binds[index].buffer else { return .null }
            switch kind {
            case .integer(let unsigned):
                return unsigned ? .unsigned(buffer.load(as: UInt64.self)) : .int(buffer.load(as: Int64.self))
            case .double:
                return .double(buffer.load(as: Double.self))
            case .date:
                let time = buffer.load(as: MYSQL_TIME.self)
                return .date(year: Int(time.year), month: Int(time.month), day: Int(time.day))
            case .datetime:
                return MariaDBTime.date(from: buffer.load(as: MYSQL_TIME.self)).map(MariaDBValue.datetime) ?? .null
            case .decimal, .text, .bytes:
                let bytes = Array(UnsafeRawBufferPointer(start: buffer, count: Int(lengths[index])))
                switch kind {
                case .decimal: return .decimal(String(decoding: bytes, as: UTF8.self))
                case .bytes: return .bytes(bytes)
                default: return .text(String(decoding: bytes, as: UTF8.self))
                }
            }
        }
    }

    func release() {
        for pointer in allocations { pointer.deallocate() }
        allocations = []
        lengths.deallocate()
        nulls.deallocate()
        errors.deallocate()
    }
}

/// `MYSQL_TIME` ↔ `Date`, in UTC to the microsecond.
enum MariaDBTime {
    static func time(from date: Date) -> MYSQL_TIME {
        let calendar = utc
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let whole = calendar.date(from: parts) ?? date
        var time = MYSQL_TIME()
        time.year = UInt32(clamping: parts.year ?? 1970)
        time.month = UInt32(clamping: parts.month ?? 1)
        time.day = UInt32(clamping: parts.day ?? 1)
        time.hour = UInt32(clamping: parts.hour ?? 0)
        time.minute = UInt32(clamping: parts.minute ?? 0)
        time.second = UInt32(clamping: parts.second ?? 0)
        time.second_part = UInt(clamping: min(999_999, max(0, Int((date.timeIntervalSince(whole) * 1_000_000).rounded(.down)))))
        time.time_type = MYSQL_TIMESTAMP_DATETIME
        return time
    }

    static func date(from time: MYSQL_TIME) -> Date? {
        let components = DateComponents(year: Int(time.year), month: Int(time.month), day: Int(time.day),
                                        hour: Int(time.hour), minute: Int(time.minute), second: Int(time.second))
        guard time.year > 0, let whole = utc.date(from: components) else { return nil }
        return whole.addingTimeInterval(Double(time.second_part) / 1_000_000)
    }

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar
    }()
}
