/** Stylesheets imported by the widget's scripts arrive as text (esbuild's `text` loader, server/src/http/widget.ts). */
declare module "*.css" {
  const text: string;
  export default text;
}
