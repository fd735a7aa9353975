import NIOCore

/// The answers of one control connection, in request order (issue 17 item 2): a pure type, tested
/// without a channel.
///
/// Each request takes a slot when it is dispatched: filled at once when its answer is known, or
/// reserved while a task works on it and filled when the task ends. Only the ready prefix leaves,
/// so a quick answer never overtakes a slow one before it. A client notification has no answer: its
/// slot holds an empty buffer, which keeps its place and writes nothing.
struct ResponseSlots {
    /// Answers not yet taken, in request order; nil while a task still works on one.
    private var slots = CircularBuffer<ByteBuffer?>()
    /// The request number of `slots.first`.
    private var firstSlot = 0

    /// Whether every answer has been taken.
    var isEmpty: Bool { slots.isEmpty }

    /// A slot whose answer is known now.
    mutating func append(ready answer: ByteBuffer) {
        slots.append(answer)
    }

    /// A slot for an answer still to come; its number is what ``fill(_:with:)`` takes.
    mutating func reserve() -> Int {
        slots.append(nil)
        return firstSlot + slots.count - 1
    }

    /// The answer of a reserved slot.
    mutating func fill(_ slot: Int, with answer: ByteBuffer) {
        slots[slots.index(slots.startIndex, offsetBy: slot - firstSlot)] = answer
    }

    /// Takes the ready prefix: its answers in one buffer, and how many slots it held (nil when the
    /// first slot still waits, or there is none).
    mutating func takeReady() -> (output: ByteBuffer, count: Int)? {
        var output = ByteBuffer()
        var count = 0
        while let first = slots.first, var ready = first {
            output.writeBuffer(&ready)
            slots.removeFirst()
            firstSlot += 1
            count += 1
        }
        return count > 0 ? (output, count) : nil
    }
}
