import type { ErpSystem } from '../../src/connectors/erp/types';
import type { Sandbox } from '../../src/sandbox';

/** JSON with Maps as objects and Sets as arrays, so simulator state prints whole. */
function json(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v instanceof Map ? Object.fromEntries(v) : v instanceof Set ? [...v] : v,
  );
}

/** Everything an ERP simulator holds (every record of every model or table, and its request log), as JSON text. */
export function erpRecordsText(sandbox: Sandbox, erp: ErpSystem): string {
  switch (erp) {
    case 'odoo': {
      const store = sandbox.odoo.state.store;
      return json(Object.fromEntries([...store.models.keys()].map((m) => [m, store.all(m)])));
    }
    case 'm3':
      return json(sandbox.m3.state.data);
    case 'p21': {
      const { tokens: _tokens, ...records } = sandbox.p21.state;
      return json(records);
    }
    case 'sagepro':
      return json(sandbox.sagepro.state);
  }
}

/** Adds a stocked item (100 on hand at MAIN, price 10.00) to an ERP simulator, as its own seed does. */
export function addStockedItem(sandbox: Sandbox, erp: ErpSystem, sku: string, name: string): void {
  switch (erp) {
    case 'odoo': {
      const s = sandbox.odoo.state;
      const [income] = s.records('account.account', [['code', '=', '4000']]);
      const [stock] = s.records('stock.location', [['complete_name', '=', 'MAIN/Stock']]);
      const id = s.create('product.product', {
        name,
        default_code: sku,
        list_price: 10,
        is_storable: true,
        property_account_income_id: income.id,
      });
      const quant = s.create('stock.quant', { product_id: id, location_id: stock.id, inventory_quantity: 100 });
      s.store.call('stock.quant', 'action_apply_inventory', [quant], {}, { inventory_name: `stock ${sku}` });
      return;
    }
    case 'm3': {
      const d = sandbox.m3.state.data;
      d.items.set(sku, { ITNO: sku, ITDS: name, UNMS: 'EA', STAT: '20', SAPR: 1000, CUCD: 'USD', STCD: '1' });
      d.balances.set(`MAIN|${sku}`, 100);
      return;
    }
    case 'p21': {
      const s = sandbox.p21.state;
      s.parts.push({
        PartNum: sku,
        ItemDesc: name,
        PriceMinor: 1000,
        UnitOfMeasure: 'EA',
        CurrencyID: 'USD',
        Stockable: 'Y',
        DeleteFlag: 'N',
      });
      s.invLoc.push({ PartNum: sku, LocationID: 'MAIN', OnHandQty: 100, QtyAllocated: 0 });
      return;
    }
    case 'sagepro': {
      const s = sandbox.sagepro.state;
      s.items.push({ ITEM: sku, ITMDESC: name, PRICE: 1000, STKUMID: 'EA', STOCKED: 'Y' });
      s.onhand.push({ ITEM: sku, LOCTID: 'MAIN', ONHAND: 100 });
      return;
    }
  }
}
