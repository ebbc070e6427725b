import type { Store } from './orm';

/** The shared catalog (USD list prices), identical across every simulator. */
export const ODOO_PRODUCTS = [
  { sku: 'SKU-1001', name: 'Trail Runner Shoe', price: 89.99, onHand: 120 },
  { sku: 'SKU-1002', name: 'Wool Socks', price: 15.99, onHand: 340 },
  { sku: 'SKU-1003', name: 'Rain Jacket', price: 129.0, onHand: 45 },
  { sku: 'SKU-1004', name: 'Water Bottle', price: 24.99, onHand: 210 },
  { sku: 'SKU-1005', name: 'Headlamp', price: 34.5, onHand: 60 },
];

/** GL accounts; 4999 and 6199 are deliberately missing (GlAccountNotFound in tests and the demo). */
export const ODOO_ACCOUNTS: [string, string, string, boolean][] = [
  ['1010', 'Bank and cash', 'asset_cash', false],
  ['1030', 'Card clearing', 'asset_current', true],
  ['1200', 'Accounts receivable', 'asset_receivable', true],
  ['1999', 'Suspense', 'asset_current', false],
  ['2100', 'Payroll liabilities', 'liability_current', false],
  ['2110', 'Tax liabilities', 'liability_current', false],
  ['2200', 'Sales tax payable', 'liability_current', false],
  ['4000', 'Revenue', 'income', false],
  ['4010', 'Refunds and returns', 'income', false],
  ['6000', 'Wages expense', 'expense', false],
  ['6100', 'Card fees', 'expense', false],
];

/**
 * Seeds the store: company, currencies, countries, customers with near-duplicates, catalog (with the SHIPPING
 * service product), stock, chart, journals.
 */
export function seed(store: Store): void {
  for (const [name, symbol, decimals] of [
    ['USD', '$', 2],
    ['EUR', '€', 2],
    ['CAD', '$', 2],
    ['GBP', '£', 2],
    ['JPY', '¥', 0],
  ] as const) {
    store.create('res.currency', { name, symbol, decimal_places: decimals });
  }
  const country: Record<string, number> = {};
  for (const [code, name] of [
    ['US', 'United States'],
    ['CA', 'Canada'],
    ['GB', 'United Kingdom'],
    ['DE', 'Germany'],
  ]) {
    country[code] = store.create('res.country', { code, name });
  }
  for (const [code, name] of [
    ['CA', 'California'],
    ['IL', 'Illinois'],
    ['NY', 'New York'],
    ['OR', 'Oregon'],
    ['TX', 'Texas'],
    ['WA', 'Washington'],
  ]) {
    store.create('res.country.state', { code, name, country_id: country.US });
  }
  store.create('uom.uom', { name: 'Units' });
  store.create('res.partner', { name: 'Ledgerbridge Demo Co', is_company: true, country_id: country.US });

  // Near-duplicates: the same email in another case, the same phone written differently.
  const customers = [
    {
      name: 'Jane Doe',
      email: 'jane.doe@example.com',
      phone: '(555) 010-2000',
      city: 'Portland',
      ref: 'heartland:C1001',
    },
    { name: 'Jane M. Doe', email: 'JANE.DOE@Example.com', phone: '555-010-2000', city: 'Portland' },
    { name: 'Robert Smith', email: 'rsmith@example.com', phone: '+1 555 010 3000', city: 'Seattle' },
    { name: 'Bob Smith', email: 'bob.smith@example.org', phone: '555.010.3000', city: 'Seattle' },
    { name: 'Acme Outfitters', email: 'ap@acme.example', phone: '555-010-4000', city: 'Austin', is_company: true },
  ];
  for (const c of customers) store.create('res.partner', { ...c, customer_rank: 1, country_id: country.US });

  const account: Record<string, number> = {};
  for (const [code, name, account_type, reconcile] of ODOO_ACCOUNTS) {
    account[code] = store.create('account.account', { code, name, account_type, reconcile });
  }
  for (const [code, name, type, acc] of [
    ['INV', 'Customer Invoices', 'sale', '4000'],
    ['BANK', 'Bank', 'bank', '1010'],
    ['CARD', 'Card payments', 'bank', '1030'],
    ['CASH', 'Cash', 'cash', '1010'],
    ['MISC', 'Miscellaneous Operations', 'general', ''],
  ]) {
    store.create('account.journal', { code, name, type, default_account_id: acc ? account[acc] : false });
  }
  store.create('product.pricelist', { name: 'Public Pricelist (USD)', currency_id: 1 });
  store.create('product.pricelist', { name: 'EUR Pricelist', currency_id: 2 });
  store.create('product.pricelist', { name: 'CAD Pricelist', currency_id: 3 });

  const stockLoc = store.create('stock.location', { name: 'Stock', complete_name: 'MAIN/Stock', usage: 'internal' });
  store.create('stock.location', {
    name: 'Inventory adjustment',
    complete_name: 'Virtual Locations/Inventory adjustment',
    usage: 'inventory',
  });
  store.create('stock.location', { name: 'Customers', complete_name: 'Partners/Customers', usage: 'customer' });
  const wh = store.create('stock.warehouse', { name: 'Main Warehouse', code: 'MAIN', lot_stock_id: stockLoc });
  store.write('stock.location', [stockLoc], { warehouse_id: wh });

  for (const p of ODOO_PRODUCTS) {
    const id = store.create('product.product', {
      name: p.name,
      default_code: p.sku,
      list_price: p.price,
      is_storable: true,
      property_account_income_id: account['4000'],
    });
    if (p.onHand) store.create('stock.quant', { product_id: id, location_id: stockLoc, inventory_quantity: p.onHand });
  }
  store.call(
    'stock.quant',
    'action_apply_inventory',
    store.search('stock.quant', []),
    {},
    { inventory_name: 'Opening stock' },
  );
  // Order-to-cash sends shipping as a SHIPPING line: a service product on revenue, price 0, never stocked.
  store.create('product.product', {
    name: 'Shipping',
    default_code: 'SHIPPING',
    type: 'service',
    list_price: 0,
    property_account_income_id: account['4000'],
  });
  // Amount-only refunds credit a REFUND service line on the returns account.
  store.create('product.product', {
    name: 'Refund adjustment',
    default_code: 'REFUND',
    type: 'service',
    list_price: 0,
    property_account_income_id: account['4010'],
  });
  // Externally computed sales tax is invoiced as its own service line on 2200 (see the connector).
  store.create('product.product', {
    name: 'Sales tax (external)',
    default_code: 'LB-TAX',
    type: 'service',
    sale_ok: false,
    property_account_income_id: account['2200'],
  });
}
