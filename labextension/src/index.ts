/**
 * The Taskbook JupyterLab extension: a left-sidebar panel with the store's runs, the
 * paused runs' input requests, the deployments and the limits, read from
 * /taskbook/api/; runs and deployments open in main-area tabs; notifications and a badge
 * for runs that fail or wait for input.
 *
 * A run opens from a sidebar row, the command "taskbook:open-run" {id}, a page URL with
 * `?taskbook-run=ID` (the CLI prints one), a `taskbook:open-run` DOM event (the notebook
 * widgets send it), or an output notebook's toolbar button.
 */

import type { JupyterFrontEnd, JupyterFrontEndPlugin } from "@jupyterlab/application";
import { ICommandPalette, ToolbarButton, WidgetTracker } from "@jupyterlab/apputils";
import type { DocumentRegistry, IDocumentWidget } from "@jupyterlab/docregistry";
import { IRenderMimeRegistry } from "@jupyterlab/rendermime";
import { TaskbookApi } from "./api";
import { ApprovalsView } from "./approvals-view";
import { DeploymentPanel } from "./deployment-panel";
import { DeploymentsView } from "./deployments-view";
import { taskbookIcon } from "./icon";
import { LimitsView } from "./limits-view";
import { Notifier } from "./notifier";
import { promote } from "./promote";
import { type Console, RunPanel } from "./run-panel";
import { RunsView } from "./runs-view";
import { TaskbookSidebar } from "./sidebar";

const OPEN_RUN = "taskbook:open-run";
const OPEN_DEPLOYMENT = "taskbook:open-deployment";

const plugin: JupyterFrontEndPlugin<void> = {
  id: "taskbook:sidebar",
  description: "The Taskbook console: runs, approvals, deployments and limits.",
  autoStart: true,
  // rendermime renders the artifacts' markdown on a run's page (sanitized, as in a notebook).
  optional: [ICommandPalette, IRenderMimeRegistry],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null, rendermime: IRenderMimeRegistry | null): void => {
    const api = new TaskbookApi(app.serviceManager.serverSettings);
    const asked = new URLSearchParams(window.location.search);
    const panels = new WidgetTracker<RunPanel | DeploymentPanel>({ namespace: "taskbook-panels" });
    const open = (panel: RunPanel | DeploymentPanel): void => {
      const existing = panels.find((candidate) => candidate.id === panel.id);
      if (existing) {
        panel.dispose();
        app.shell.activateById(existing.id);
        existing.refreshNow();
        return;
      }
      void panels.add(panel);
      app.shell.add(panel, "main");
      app.shell.activateById(panel.id);
    };
    let sidebar: TaskbookSidebar | null = null;
    let notifier: Notifier | null = null;
    const console_: Console = {
      openRun: (id) => void app.commands.execute(OPEN_RUN, { id }),
      openDeployment: (name) => void app.commands.execute(OPEN_DEPLOYMENT, { name }),
      openPath: (path) => {
        app.commands.execute("docmanager:open", { path }).catch((error: unknown) => {
          console.warn("[taskbook] could not open the output notebook", path, error);
        });
      },
      changed: () => {
        sidebar?.poke();
        notifier?.poke();
      },
    };
    app.commands.addCommand(OPEN_RUN, {
      label: "Open Taskbook run",
      caption: "Open a flow run in a tab: graph, timeline, task runs, logs, artifacts, history",
      execute: (args) => {
        const id = String(args["id"] ?? "").trim();
        if (id) open(new RunPanel(api, id, console_, rendermime));
      },
    });
    app.commands.addCommand(OPEN_DEPLOYMENT, {
      label: "Open Taskbook deployment",
      caption: "Open a deployment in a tab: schedules, runs, versions and their changes",
      execute: (args) => {
        const name = String(args["name"] ?? "").trim();
        if (name) open(new DeploymentPanel(api, name, console_));
      },
    });
    const deployments = new DeploymentsView(api, console_.openDeployment, console_.openRun);
    sidebar = new TaskbookSidebar([
      new RunsView(api, console_.openRun),
      new ApprovalsView(api, console_.openRun),
      deployments,
      new LimitsView(api),
    ]);
    sidebar.id = "taskbook-sidebar";
    sidebar.title.icon = taskbookIcon;
    sidebar.title.caption = "Taskbook";
    app.shell.add(sidebar, "left", { rank: 600 });
    notifier = new Notifier(api, sidebar, console_.openRun);
    notifier.start();
    addPromote(app, api, palette, () => deployments.poller.poke());
    addOpenRunButton(app, console_);
    // The notebook widgets (RunGraph) ask for a run with a DOM event; the attribute tells
    // them there is a console to ask.
    window.addEventListener(OPEN_RUN, (event) => {
      const id = (event as CustomEvent<{ id?: unknown }>).detail?.id;
      if (typeof id === "string") console_.openRun(id);
    });
    document.body.dataset["taskbookConsole"] = "1";
    void app.restored.then(() => {
      const run = asked.get("taskbook-run");
      const deployment = asked.get("taskbook-deployment");
      if (run) console_.openRun(run);
      if (deployment) console_.openDeployment(deployment);
    });
    console.debug("[taskbook] console ready");
  },
};

/** On an output notebook (its metadata names the run), a toolbar button opens the run. */
function addOpenRunButton(app: JupyterFrontEnd, console_: Console): void {
  const extension: DocumentRegistry.WidgetExtension = {
    createNew: (widget) => {
      const panel = widget as IDocumentWidget;
      void panel.context.ready.then(() => {
        const model = panel.context.model as unknown as { getMetadata(key: string): unknown };
        const metadata = model.getMetadata("taskbook") as { flow_run_id?: unknown } | undefined;
        const id = metadata?.flow_run_id;
        if (typeof id !== "string" || panel.isDisposed) return;
        const button = new ToolbarButton({
          icon: taskbookIcon,
          label: "Open run",
          tooltip: "Open the Taskbook run that wrote this output notebook",
          className: "tb-open-run-button",
          onClick: () => console_.openRun(id),
        });
        panel.toolbar.insertItem(11, "taskbookOpenRun", button);
      });
    },
  };
  app.docRegistry.addWidgetExtension("Notebook", extension);
}

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
