import type { CloverSimulator, SimItemInput } from './clover.ts';

/** Two demo stores of the kind this product serves: a gas station and a convenience store. */
export function demoCatalog(): Array<{ merchantId: string; storeCode: string; items: SimItemInput[] }> {
  return [
    {
      merchantId: 'DEMOGAS0000001',
      storeCode: 'store-001',
      items: [
        {
          name: 'Regular Unleaded 87',
          sku: 'FUEL-87',
          price: 389,
          priceType: 'PER_UNIT',
          unitName: 'gal',
          cost: 341,
        },
        { name: 'Plus 89', sku: 'FUEL-89', price: 419, priceType: 'PER_UNIT', unitName: 'gal', cost: 368 },
        { name: 'Premium 93', sku: 'FUEL-93', price: 459, priceType: 'PER_UNIT', unitName: 'gal', cost: 402 },
        { name: 'Diesel', sku: 'FUEL-DSL', price: 479, priceType: 'PER_UNIT', unitName: 'gal', cost: 420 },
        { name: 'Marlboro Red King', sku: 'CIG-MRK', price: 1099, hidden: true },
        { name: 'Camel Blue', sku: 'CIG-CB', price: 1049, hidden: true },
        { name: 'Coca-Cola 20oz', sku: 'BEV-COKE20', code: '049000028911', price: 229, cost: 120 },
        { name: 'Pepsi 20oz', sku: 'BEV-PEP20', code: '012000001291', price: 219 },
        { name: 'Red Bull 8.4oz', sku: 'BEV-RB84', price: 329 },
        { name: 'Dasani Water 1L', code: '049000042566', price: 199 },
        { name: 'Lays Classic', sku: 'SN-LAYS', price: 249 },
        { name: 'Snickers', sku: 'SN-SNK', price: 179 },
        { name: 'Hot dog', sku: 'DELI-HD', price: 299, priceType: 'VARIABLE' },
        { name: 'Coffee (self-serve)', price: 159 },
        { name: 'Ice bag 10lb', sku: 'ICE-10', price: 399, available: false },
        { name: 'Windshield fluid', sku: 'AUTO-WF', price: 549 },
        { name: 'Motor oil 5W-30 1qt', sku: 'AUTO-OIL', price: 899 },
        { name: 'Propane exchange', sku: 'PROP-EX', price: 2499 },
      ],
    },
    {
      merchantId: 'DEMOMART00002',
      storeCode: 'store-002',
      items: [
        { name: 'Bananas', sku: 'PRD-BAN', price: 69, priceType: 'PER_UNIT', unitName: 'lb' },
        { name: 'Deli turkey', sku: 'DELI-TRK', price: 899, priceType: 'PER_UNIT', unitName: 'lb' },
        { name: 'Whole milk 1gal', sku: 'DAI-MILK', code: '070038000563', price: 449 },
        { name: 'Eggs dozen', sku: 'DAI-EGG', price: 379 },
        { name: 'White bread', code: '072250011372', price: 299 },
        { name: 'Newport Menthol', sku: 'CIG-NPM', price: 1149, hidden: true },
        { name: 'Bud Light 6pk', sku: 'BEER-BL6', price: 1099 },
        { name: 'Sprite 2L', sku: 'BEV-SPR2', price: 279 },
        { name: 'Gatorade 28oz', sku: 'BEV-GAT', price: 249 },
        { name: 'Doritos Nacho', sku: 'SN-DOR', price: 249 },
        { name: 'Phone charger', sku: 'ELEC-CHG', price: 1499 },
        { name: 'Lottery scratcher', sku: 'LOT-SCR', price: 0, priceType: 'VARIABLE' },
        { name: 'Roses bouquet', price: 1299 },
        { name: 'Firewood bundle', sku: 'MISC-FW', price: 799 },
        { name: 'Aspirin 24ct', sku: 'HBA-ASP', price: 549 },
      ],
    },
  ];
}

/**
 * A third store that has not connected yet: its Clover account exists (signed in to the simulator,
 * so the consent page is its), and an invite for store-003 connects it
 * (`esl-sync stores invite --store-code store-003`).
 */
export function demoStoreToConnect(): {
  merchantId: string;
  name: string;
  storeCode: string;
  items: SimItemInput[];
} {
  return {
    merchantId: 'DEMOCAFE00003',
    name: 'Corner Café',
    storeCode: 'store-003',
    items: [
      { name: 'Espresso', sku: 'CAF-ESP', price: 249 },
      { name: 'Latte 16oz', sku: 'CAF-LAT16', price: 449 },
      { name: 'Cold brew 16oz', sku: 'CAF-CB16', price: 429 },
      { name: 'Croissant', sku: 'BAK-CRO', price: 329 },
      { name: 'Blueberry muffin', sku: 'BAK-MUF', price: 299 },
      { name: 'Bagels', sku: 'BAK-BAG', price: 149, priceType: 'PER_UNIT', unitName: 'ea' },
      { name: 'Orange juice 12oz', code: '048500001516', price: 359 },
      { name: 'Sparkling water', sku: 'BEV-SPK', price: 199 },
      { name: 'Coffee beans 1lb', sku: 'CAF-BEAN', price: 1499, cost: 820 },
      { name: 'Gift card', sku: 'GIFT', price: 0, priceType: 'VARIABLE', hidden: true },
    ],
  };
}

/** Moves a fuel or drink price now and then, as clerks do, so labels visibly follow Clover. */
export function startDemoActivity(
  sim: CloverSimulator,
  opts: { intervalMs: number; onChange?: (description: string) => void },
) {
  const timer = setInterval(() => {
    const candidates = demoCatalog().flatMap((d) =>
      sim
        .items(d.merchantId)
        .filter((i) => !i.hidden && (i.sku?.startsWith('FUEL') || i.sku?.startsWith('BEV')))
        .map((i) => ({ merchantId: d.merchantId, item: i })),
    );
    const pick = candidates[Math.floor(Math.random() * candidates.length)];
    if (!pick) return;
    const step = (Math.random() < 0.5 ? -1 : 1) * (1 + Math.floor(Math.random() * 10));
    const price = Math.max(1, pick.item.price + step);
    sim.upsertItem(pick.merchantId, { id: pick.item.id, price });
    opts.onChange?.(
      `${pick.merchantId} ${pick.item.name} ${(pick.item.price / 100).toFixed(2)} → ${(price / 100).toFixed(2)}`,
    );
  }, opts.intervalMs);
  return { stop: () => clearInterval(timer) };
}
