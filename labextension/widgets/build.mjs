// Bundles the widgets' TypeScript into the Python package (kernel_ext/widgets/static):
// one ES module per widget with its dependencies inlined, and its CSS beside it.
// `npm run build:widgets` type-checks first; `--watch` rebuilds on change.
import * as esbuild from "esbuild";
import { statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "..", "kernel_ext", "widgets", "static");

const NOTICE = "/* Taskbook notebook widget.";
const DAGRE = " Bundles @dagrejs/dagre and @dagrejs/graphlib, MIT License, Copyright (c) 2012-2014 Chris Pettitt.";
const widgets = [
  { name: "graph", banner: `${NOTICE}${DAGRE} */` },
  { name: "approval", banner: `${NOTICE} */` },
];

const common = {
  outdir,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020", "chrome90", "firefox90", "safari15"],
  minify: true,
  legalComments: "none", // the banner carries the bundled licence notice
  metafile: true,
  logLevel: "warning",
};

const optionsOf = ({ name, banner }) => ({
  ...common,
  entryPoints: { [name]: join(here, `${name}.ts`) },
  banner: { js: banner },
});

if (process.argv.includes("--watch")) {
  for (const widget of widgets) {
    const context = await esbuild.context({ ...optionsOf(widget), logLevel: "info" });
    await context.watch();
  }
} else {
  const results = await Promise.all(widgets.map((widget) => esbuild.build(optionsOf(widget))));
  const files = results.flatMap((result) => Object.keys(result.metafile.outputs)).sort();
  for (const file of files) {
    const size = statSync(file).size;
    console.log(`${relative(process.cwd(), file).padEnd(44)} ${(size / 1024).toFixed(1).padStart(7)} KiB`);
  }
}
