/**
 * The Taskbook JupyterLab extension: a left-sidebar panel with the store's runs, the
 * paused runs' input requests and the deployments, read from /taskbook/api/.
 */

import type { JupyterFrontEnd, JupyterFrontEndPlugin } from "@jupyterlab/application";
import { TaskbookApi } from "./api";
import { ApprovalsView } from "./approvals-view";
import { DeploymentsView } from "./deployments-view";
import { taskbookIcon } from "./icon";
import { RunsView } from "./runs-view";
import { TaskbookSidebar } from "./sidebar";

const plugin: JupyterFrontEndPlugin<void> = {
  id: "taskbook:sidebar",
  description: "The Taskbook sidebar: runs, approvals and deployments.",
  autoStart: true,
  activate: (app: JupyterFrontEnd): void => {
    const api = new TaskbookApi(app.serviceManager.serverSettings);
    const openPath = (path: string): void => {
      app.commands.execute("docmanager:open", { path }).catch((error: unknown) => {
        console.warn("[taskbook] could not open the output notebook", path, error);
      });
    };
    const sidebar = new TaskbookSidebar([
      new RunsView(api, openPath),
      new ApprovalsView(api),
      new DeploymentsView(api),
    ]);
    sidebar.id = "taskbook-sidebar";
    sidebar.title.icon = taskbookIcon;
    sidebar.title.caption = "Taskbook";
    app.shell.add(sidebar, "left", { rank: 600 });
    console.debug("[taskbook] sidebar ready");
  },
};

export default plugin;
