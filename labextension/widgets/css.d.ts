// esbuild extracts imported stylesheets into a .css file next to the bundle.
declare module "*.css";
