// The study page (npsynth/serve/study.py): one pair sheet at a time; L, R or T (keys or
// buttons) saves the answer on the server and shows the next unanswered pair.
import { call } from "./api.js";

const $ = (id) => document.getElementById(id);
let pairs = [], answers = {}, judge = "", index = 0;

function say(text, error = false) {
  $("message").textContent = text;
  $("message").classList.toggle("error", error);
}

function show() {
  index = pairs.findIndex((pair) => !(pair in answers));
  if (index < 0) {
    $("judge").hidden = true;
    $("progress").textContent = `all ${pairs.length} pairs answered`;
    say(`Thank you: your answers are saved as answers/${judge}.csv.`);
    return;
  }
  $("sheet").src = `/api/study/sheets/${pairs[index]}.png`;
  $("progress").textContent = `pair ${index + 1} of ${pairs.length}`;
}

async function send(answer) {
  if ($("judge").hidden || index < 0) return;
  const pair = pairs[index];
  try {
    await call("/api/study/answers", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ judge, pair, answer }),
    });
    answers[pair] = answer;
    say("");
    show();
  } catch (error) {
    say(error.message, true);
  }
}

$("start").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    pairs = (await call("/api/study")).pairs;
    const started = await call("/api/study/judges", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: $("name").value }),
    });
    judge = started.judge;
    answers = started.answers;
    $("start").hidden = true;
    $("judge").hidden = false;
    say(`Judging as ${judge}.`);
    show();
  } catch (error) {
    say(error.message, true);
  }
});

for (const button of document.querySelectorAll(".answers button")) {
  button.addEventListener("click", () => send(button.dataset.answer));
}
document.addEventListener("keydown", (event) => {
  const key = event.key.toUpperCase();
  if (["L", "R", "T"].includes(key) && !event.ctrlKey && !event.metaKey && !event.altKey) send(key);
});
