/** The catalogue's tables: products and their variants, with stock. */
declare module '../../core/db/schema.js' {
  interface DatabaseSchema {
    products: ProductTable;
    product_variants: VariantTable;
  }
}

export interface ProductTable {
  id: string;
  tenant_id: string;
  sku: string;
  name: string;
  description: string;
  price_minor: number;
  currency: string;
  /** Units on hand for a product without variants; ignored when the product has variants. */
  stock: number;
  active: number;
  created_at: string;
}

export interface VariantTable {
  id: string;
  product_id: string;
  sku: string;
  name: string;
  /** Added to the product's price (may be negative). */
  price_delta_minor: number;
  stock: number;
  active: number;
}
