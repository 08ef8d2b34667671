// ESLint flat config: @eslint/js and typescript-eslint recommended rules over src, test, bench and examples.
import js from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  globalIgnores(["**/dist/", "docs-site/", "node_modules/", "coverage/"]),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: "module" },
    rules: {
      // Unused arguments and variables are allowed when named `_…` (rules often ignore some of their inputs).
      "@typescript-eslint/no-unused-vars": [
        "error",
        {
          argsIgnorePattern: "^_",
          varsIgnorePattern: "^_",
          caughtErrorsIgnorePattern: "^_",
          destructuredArrayIgnorePattern: "^_",
        },
      ],
      // Transforms take and return arbitrary pytrees, where `any` is sometimes the honest type: flag, don't fail.
      "@typescript-eslint/no-explicit-any": "warn",
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts", "examples/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
