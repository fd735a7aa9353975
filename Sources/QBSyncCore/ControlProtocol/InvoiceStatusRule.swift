/// The rule that gives an invoice its status, with the rule written out for `invoice.explain`.
public enum InvoiceStatusRule {
    /// Voided (voided or deleted in QuickBooks), Paid (balance 0, total > 0), Overdue (balance > 0,
    /// due date before `today`), else Outstanding; `today` is `YYYY-MM-DD` (UTC).
    public static func evaluate(total: Money, balance: Money, dueDate: String?, gone: Bool, today: String) -> (status: EntityStatus, rule: String) {
        if gone { return (.voided, "voided or deleted in QuickBooks → Voided") }
        if balance == .zero && total > .zero { return (.paid, "Balance 0 and TotalAmt > 0 → Paid") }
        if balance > .zero, let dueDate, dueDate < today { return (.overdue, "DueDate \(dueDate) before \(today) with Balance > 0 → Overdue") }
        if balance > .zero { return (.outstanding, "Balance > 0 and DueDate \(dueDate ?? "none") not before \(today) → Outstanding") }
        return (.outstanding, "TotalAmt 0 with nothing to pay → Outstanding")
    }
}
