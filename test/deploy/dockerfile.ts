// Reads deploy/Dockerfile into stages of instructions (continuations joined, comments dropped), so
// the deploy tests can check what each stage installs, copies and runs without running docker.
import * as Fs from "node:fs"

export interface Instruction {
  readonly keyword: string
  readonly args: string
}

export interface Stage {
  readonly from: string
  readonly instructions: ReadonlyArray<Instruction>
}

export const readDockerfile = (file = "deploy/Dockerfile"): ReadonlyArray<Stage> => {
  const logical = Fs.readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
  const stages: Array<{ from: string; instructions: Array<Instruction> }> = []
  for (const line of logical) {
    const space = line.search(/\s|$/)
    const keyword = line.slice(0, space).toUpperCase()
    const args = line.slice(space).trim()
    if (keyword === "FROM") stages.push({ from: args, instructions: [] })
    else stages.at(-1)!.instructions.push({ keyword, args })
  }
  return stages
}

/** `COPY --from=<stage> <src> <dest>` lines of a stage: from which stage, what, to where. */
export const copiesFrom = (stage: Stage, from: string) =>
  stage.instructions
    .filter((instruction) => instruction.keyword === "COPY" && instruction.args.startsWith(`--from=${from} `))
    .map((instruction) => {
      const [, source = "", destination = ""] = instruction.args.split(/\s+/)
      return { source, destination }
    })

/** The stage's dependency install: its index among the instructions, and its RUN line. */
export const installOf = (stage: Stage) => {
  const index = stage.instructions.findIndex((instruction) => instruction.keyword === "RUN" && /\bnpm (ci|install|i|clean-install|ic)\b/.test(instruction.args))
  return { index, args: index === -1 ? undefined : stage.instructions[index]!.args }
}
