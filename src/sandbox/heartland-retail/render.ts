import { dec, type RetailSimState, type SimCustomer, type SimInventoryValue, type SimItem } from './state';
import type { SimLocation, SimTicket, SimWebhook } from './state';

/** Wire (JSON) renderings of the simulator's records, as the Heartland Retail REST API returns them. */

export function renderItem(it: SimItem) {
  return {
    id: it.id,
    public_id: it.publicId,
    description: it.description,
    price: dec(it.priceMinor),
    cost: it.costMinor === null ? null : dec(it.costMinor),
    active: it.active,
    custom: { sku: it.sku },
    created_at: it.createdAt,
    updated_at: it.updatedAt,
  };
}

export function renderCustomer(c: SimCustomer) {
  return {
    id: c.id,
    public_id: c.publicId,
    first_name: c.firstName,
    last_name: c.lastName,
    email: c.email,
    phone: c.phone,
    active: c.active,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

export function renderInventoryValue(v: SimInventoryValue) {
  return { item_id: v.itemId, location_id: v.locationId, qty_on_hand: v.qtyOnHand, updated_at: v.updatedAt };
}

export function renderLocation(l: SimLocation) {
  return { id: l.id, public_id: l.publicId, name: l.name, active: l.active, updated_at: l.updatedAt };
}

export function renderTicket(t: SimTicket, state: RetailSimState) {
  const c = t.customerId === null ? undefined : state.customers.get(t.customerId);
  return {
    id: t.id,
    public_id: t.publicId,
    status: t.status,
    customer_id: t.customerId,
    customer: c
      ? { id: c.id, public_id: c.publicId, first_name: c.firstName, last_name: c.lastName, email: c.email }
      : null,
    location_id: t.locationId,
    subtotal: dec(t.subtotalMinor),
    tax_total: dec(t.taxMinor),
    total: dec(t.totalMinor),
    lines: t.lines.map((l) => ({
      id: l.id,
      line_type: 'item',
      item_id: l.itemId,
      sku: l.sku,
      description: l.description,
      qty: l.qty,
      unit_price: dec(l.unitPriceMinor),
      value: dec(l.valueMinor),
      original_ticket_id: l.originalTicketId,
    })),
    taxes: t.taxes.map((x) => ({ name: x.name, rate: x.rate, amount: dec(x.amountMinor) })),
    payments: t.payments.map((p) => ({
      id: p.id,
      payment_type: p.paymentType,
      amount: dec(p.amountMinor),
      card_brand: p.cardBrand,
      card_last4: p.cardLast4,
      transaction_id: p.transactionId,
    })),
    completed_at: t.completedAt,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
  };
}

export function renderWebhook(w: SimWebhook, withSecret = false) {
  return {
    id: w.id,
    url: w.url,
    events: w.events,
    active: w.active,
    created_at: w.createdAt,
    ...(withSecret ? { secret: w.secret } : {}),
  };
}
