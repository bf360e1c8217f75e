/**
 * The Taskbook JupyterLab extension: a left-sidebar panel with the store's runs, the
 * paused runs' input requests and the deployments, read from /taskbook/api/.
 */

import type { JupyterFrontEnd, JupyterFrontEndPlugin } from "@jupyterlab/application";
import { ICommandPalette, ToolbarButton, WidgetTracker } from "@jupyterlab/apputils";
import type { DocumentRegistry, IDocumentWidget } from "@jupyterlab/docregistry";
import { TaskbookApi } from "./api";
import { ApprovalsView } from "./approvals-view";
import { DeploymentsView } from "./deployments-view";
import { promote } from "./promote";
import { taskbookIcon } from "./icon";
import { RunsView } from "./runs-view";
import { TaskbookSidebar } from "./sidebar";

const plugin: JupyterFrontEndPlugin<void> = {
  id: "taskbook:sidebar",
  description: "The Taskbook sidebar: runs, approvals and deployments.",
  autoStart: true,
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null): void => {
    const api = new TaskbookApi(app.serviceManager.serverSettings);
    const openPath = (path: string): void => {
      app.commands.execute("docmanager:open", { path }).catch((error: unknown) => {
        console.warn("[taskbook] could not open the output notebook", path, error);
      });
    };
    const deployments = new DeploymentsView(api);
    const sidebar = new TaskbookSidebar([
      new RunsView(api, openPath),
      new ApprovalsView(api),
      deployments,
    ]);
    sidebar.id = "taskbook-sidebar";
    sidebar.title.icon = taskbookIcon;
    sidebar.title.caption = "Taskbook";
    app.shell.add(sidebar, "left", { rank: 600 });
    addPromote(app, api, palette, () => deployments.poller.poke());
    console.debug("[taskbook] sidebar ready");
  },
};

const PROMOTE = "taskbook:promote";

/**
 * "Promote to deployment": a command (palette) and a notebook toolbar button. Notebooks
 * are tracked through a document-registry widget extension (which also adds the button),
 * so the current notebook is the last one focused.
 */
function addPromote(app: JupyterFrontEnd, api: TaskbookApi, palette: ICommandPalette | null,
                    onPromoted: () => void): void {
  const notebooks = new WidgetTracker<IDocumentWidget>({ namespace: "taskbook-notebooks" });
  const current = (): IDocumentWidget | null => {
    const widget = app.shell.currentWidget;
    if (widget && notebooks.has(widget)) return widget as IDocumentWidget;
    return notebooks.currentWidget;
  };
  app.commands.addCommand(PROMOTE, {
    label: "Promote to deployment\u2026",
    caption: "Save this notebook and make it a Taskbook deployment (scheduled or run on demand)",
    icon: (args) => (args["toolbar"] ? taskbookIcon : undefined),
    isEnabled: () => current() !== null,
    execute: async () => {
      const panel = current();
      if (panel) await promote(api, panel, onPromoted);
    },
  });
  palette?.addItem({ command: PROMOTE, category: "Taskbook" });
  const extension: DocumentRegistry.WidgetExtension = {
    createNew: (widget) => {
      const panel = widget as IDocumentWidget;
      void notebooks.add(panel);
      const button = new ToolbarButton({
        icon: taskbookIcon,
        label: "Promote",
        tooltip: "Promote to deployment",
        className: "tb-promote-button",
        onClick: () => void promote(api, panel, onPromoted),
      });
      panel.toolbar.insertItem(10, "taskbookPromote", button);
      return button;
    },
  };
  app.docRegistry.addWidgetExtension("Notebook", extension);
}

export default plugin;
