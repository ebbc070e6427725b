import { applyRate, formatDecimal, money } from '../../domain/money';
import type { RetailWebhookEvent } from '../../connectors/heartland/retail-schemas';

/** In-memory state of the Heartland Retail simulator; amounts are kept in minor units and rendered as decimals. */

export const SIM_CURRENCY = 'USD';
/** Sales tax applied by simulated sales: 8.25 %. */
export const SIM_TAX = { name: 'State Sales Tax', rate: '8.25', numerator: 825, denominator: 10_000 };

export interface SimItem {
  id: number;
  publicId: string;
  sku: string | null;
  description: string;
  priceMinor: number;
  costMinor: number | null;
  active: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface SimCustomer {
  id: number;
  publicId: string | null;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  phone: string | null;
  active: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface SimLocation {
  id: number;
  publicId: string;
  name: string;
  active: boolean;
  updatedAt: string;
}

export interface SimInventoryValue {
  itemId: number;
  locationId: number;
  qtyOnHand: number;
  updatedAt: string;
}

export interface SimTicketLine {
  id: number;
  itemId: number | null;
  sku: string | null;
  description: string | null;
  qty: number;
  unitPriceMinor: number;
  valueMinor: number;
  originalTicketId: number | null;
}

export interface SimPayment {
  id: number;
  paymentType: 'credit_card' | 'cash' | 'gift_card';
  amountMinor: number;
  cardBrand: string | null;
  cardLast4: string | null;
  transactionId: string | null;
}

export interface SimTicket {
  id: number;
  publicId: string;
  status: 'complete' | 'void';
  customerId: number | null;
  locationId: number;
  lines: SimTicketLine[];
  taxes: { name: string; rate: string; amountMinor: number }[];
  payments: SimPayment[];
  subtotalMinor: number;
  taxMinor: number;
  totalMinor: number;
  completedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface SimWebhook {
  id: number;
  url: string;
  events: RetailWebhookEvent[];
  secret: string;
  active: boolean;
  createdAt: string;
}

export interface SimDelivery {
  eventId: string;
  event: RetailWebhookEvent;
  url: string;
  attempt: number;
  status: number;
  error?: string;
}

export interface RetailSimState {
  items: Map<number, SimItem>;
  customers: Map<number, SimCustomer>;
  locations: Map<number, SimLocation>;
  inventory: Map<string, SimInventoryValue>;
  tickets: Map<number, SimTicket>;
  webhooks: Map<number, SimWebhook>;
  deliveries: SimDelivery[];
  nextId: { item: number; customer: number; ticket: number; line: number; payment: number; webhook: number };
}

export const inventoryKey = (itemId: number, locationId: number) => `${itemId}:${locationId}`;

/** Minor units as a JSON decimal number (89.99); exact because formatDecimal's text round-trips through Number. */
export function dec(amountMinor: number): number {
  return Number(formatDecimal(money(amountMinor, SIM_CURRENCY)));
}

const SEED_BASE = Date.parse('2024-03-01T12:00:00.000Z');
/** Seed timestamps are fixed and a minute apart, so `updated_at` filters select predictable subsets. */
export const seedTime = (minutes: number) => new Date(SEED_BASE + minutes * 60_000).toISOString();

export const SHARED_SKUS: { sku: string; description: string; priceMinor: number; costMinor: number }[] = [
  { sku: 'SKU-1001', description: 'Trail Runner Shoe', priceMinor: 8999, costMinor: 4200 },
  { sku: 'SKU-1002', description: 'Wool Socks', priceMinor: 1599, costMinor: 520 },
  { sku: 'SKU-1003', description: 'Rain Jacket', priceMinor: 12900, costMinor: 6100 },
  { sku: 'SKU-1004', description: 'Water Bottle', priceMinor: 2499, costMinor: 900 },
  { sku: 'SKU-1005', description: 'Headlamp', priceMinor: 3450, costMinor: 1500 },
];

/** Builds a ticket's totals from its lines: tax at SIM_TAX per ticket, rounded half away from zero. */
export function ticketTotals(lines: SimTicketLine[]): { subtotalMinor: number; taxMinor: number; totalMinor: number } {
  const subtotalMinor = lines.reduce((a, l) => a + l.valueMinor, 0);
  const taxMinor = applyRate(money(subtotalMinor, SIM_CURRENCY), SIM_TAX.numerator, SIM_TAX.denominator).amountMinor;
  return { subtotalMinor, taxMinor, totalMinor: subtotalMinor + taxMinor };
}

/** The seeded account: the shared catalog, near-duplicate customers, stock at MAIN, and four tickets. */
export function seedState(): RetailSimState {
  const s: RetailSimState = {
    items: new Map(),
    customers: new Map(),
    locations: new Map(),
    inventory: new Map(),
    tickets: new Map(),
    webhooks: new Map(),
    deliveries: [],
    nextId: { item: 101, customer: 201, ticket: 301, line: 1, payment: 1, webhook: 1 },
  };

  s.locations.set(1, { id: 1, publicId: 'MAIN', name: 'Main Street Store', active: true, updatedAt: seedTime(0) });
  s.locations.set(2, { id: 2, publicId: 'OUTLET', name: 'Outlet Store', active: true, updatedAt: seedTime(1) });

  SHARED_SKUS.forEach((p, i) => {
    const id = s.nextId.item++;
    s.items.set(id, {
      id,
      publicId: String(100001 + i),
      sku: p.sku,
      description: p.description,
      priceMinor: p.priceMinor,
      costMinor: p.costMinor,
      active: true,
      createdAt: seedTime(i),
      updatedAt: seedTime(10 + i),
    });
  });

  const onHand: [string, string, number][] = [
    ['SKU-1001', 'MAIN', 24],
    ['SKU-1002', 'MAIN', 120],
    ['SKU-1003', 'MAIN', 15],
    ['SKU-1004', 'MAIN', 60],
    ['SKU-1005', 'MAIN', 33],
    ['SKU-1001', 'OUTLET', 6],
    ['SKU-1004', 'OUTLET', 12],
  ];
  onHand.forEach(([sku, loc, qty], i) => {
    const item = [...s.items.values()].find((it) => it.sku === sku)!;
    const location = [...s.locations.values()].find((l) => l.publicId === loc)!;
    s.inventory.set(inventoryKey(item.id, location.id), {
      itemId: item.id,
      locationId: location.id,
      qtyOnHand: qty,
      updatedAt: seedTime(20 + i),
    });
  });

  // Near-duplicates on purpose: 201/202 share an email in another case, 203/204 a phone written differently.
  const customers: [string | null, string, string, string | null, string | null][] = [
    ['C-0001', 'Jane', 'Doe', 'jane.doe@example.com', '+1 555-010-1234'],
    ['C-0002', 'JANE', 'DOE', 'Jane.Doe@Example.com', null],
    ['C-0003', 'John', 'Smith', 'john.smith@example.com', '(555) 010-5678'],
    ['C-0004', 'Jon', 'Smith', 'jsmith@example.net', '+1-555-010-5678'],
    ['C-0005', 'Maria', 'Garcia', 'maria.garcia@example.org', '555.010.9999'],
    ['C-0006', 'Alex', 'Chen', 'alex.chen@example.com', null],
    [null, 'Walk-in', 'Customer', null, null],
  ];
  customers.forEach(([publicId, firstName, lastName, email, phone], i) => {
    const id = s.nextId.customer++;
    s.customers.set(id, {
      id,
      publicId,
      firstName,
      lastName,
      email,
      phone,
      active: true,
      createdAt: seedTime(30 + i),
      updatedAt: seedTime(40 + i),
    });
  });

  const sku = (code: string) => [...s.items.values()].find((it) => it.sku === code)!;
  const line = (code: string, qty: number, originalTicketId: number | null = null): SimTicketLine => {
    const it = sku(code);
    return {
      id: s.nextId.line++,
      itemId: it.id,
      sku: it.sku,
      description: it.description,
      qty,
      unitPriceMinor: it.priceMinor,
      valueMinor: it.priceMinor * qty,
      originalTicketId,
    };
  };
  const seedTicket = (
    status: 'complete' | 'void',
    customerId: number | null,
    lines: SimTicketLine[],
    pay: Omit<SimPayment, 'id' | 'amountMinor'>,
    minute: number,
  ) => {
    const id = s.nextId.ticket++;
    const totals = ticketTotals(lines);
    s.tickets.set(id, {
      id,
      publicId: `T-${String(id).padStart(6, '0')}`,
      status,
      customerId,
      locationId: 1,
      lines,
      taxes: [{ name: SIM_TAX.name, rate: SIM_TAX.rate, amountMinor: totals.taxMinor }],
      payments: [{ id: s.nextId.payment++, amountMinor: totals.totalMinor, ...pay }],
      ...totals,
      completedAt: status === 'complete' ? seedTime(minute) : null,
      createdAt: seedTime(minute - 1),
      updatedAt: seedTime(minute),
    });
    return id;
  };
  const visa = (last4: string, txn: string) => ({
    paymentType: 'credit_card' as const,
    cardBrand: 'VISA',
    cardLast4: last4,
    transactionId: txn,
  });
  const cash = { paymentType: 'cash' as const, cardBrand: null, cardLast4: null, transactionId: null };

  const first = seedTicket('complete', 201, [line('SKU-1001', 1), line('SKU-1002', 2)], visa('4242', 'TRN_SEED01'), 60);
  seedTicket('complete', 203, [line('SKU-1003', 1)], cash, 61);
  seedTicket('void', 205, [line('SKU-1004', 1)], visa('1111', 'TRN_SEED03'), 62);
  // The return: one pair of socks from the first ticket comes back and is refunded to the same card.
  seedTicket('complete', 201, [line('SKU-1002', -1, first)], visa('4242', 'TRN_SEED04'), 63);
  return s;
}
