-- activity-session: learning content (seed 003) and each user's lesson progress.
-- Content ids are fixed so every database (and every client) agrees on them.
CREATE TABLE subjects (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    position    integer NOT NULL UNIQUE
);

CREATE TABLE topics (
    id          uuid PRIMARY KEY,
    subject_id  uuid NOT NULL REFERENCES subjects (id),
    slug        text NOT NULL UNIQUE,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    position    integer NOT NULL CHECK (position > 0),
    UNIQUE (subject_id, position)
);

CREATE TABLE lessons (
    id                uuid PRIMARY KEY,
    topic_id          uuid NOT NULL REFERENCES topics (id),
    slug              text NOT NULL UNIQUE,
    title             text NOT NULL,
    body_markdown     text NOT NULL,
    estimated_minutes integer NOT NULL CHECK (estimated_minutes > 0),
    position          integer NOT NULL CHECK (position > 0),
    UNIQUE (topic_id, position)
);

-- One row per lesson a user completed: completing again changes nothing.
CREATE TABLE lesson_progress (
    user_id      uuid NOT NULL,
    lesson_id    uuid NOT NULL REFERENCES lessons (id),
    completed_at timestamptz NOT NULL,
    local_date   date NOT NULL,
    timezone     text NOT NULL,
    PRIMARY KEY (user_id, lesson_id)
);
CREATE INDEX lesson_progress_by_user ON lesson_progress (user_id, completed_at DESC, lesson_id);

INSERT INTO subjects (id, slug, name, description, position) VALUES
    ('51000000-0000-4000-8000-000000000001', 'mathematics', 'Mathematics', 'Equations and geometry, one step at a time.', 1),
    ('51000000-0000-4000-8000-000000000002', 'computer-science', 'Computer science', 'How programs store data, decide and repeat, and how to search fast.', 2),
    ('51000000-0000-4000-8000-000000000003', 'biology', 'Biology', 'The cell and how plants turn light into food.', 3);

INSERT INTO topics (id, subject_id, slug, name, description, position) VALUES
    ('52000000-0000-4000-8000-000000000011', '51000000-0000-4000-8000-000000000001', 'linear-equations', 'Linear equations', 'Solve for an unknown by keeping both sides balanced.', 1),
    ('52000000-0000-4000-8000-000000000012', '51000000-0000-4000-8000-000000000001', 'pythagorean-theorem', 'The Pythagorean theorem', 'The sides of a right triangle and how they relate.', 2),
    ('52000000-0000-4000-8000-000000000021', '51000000-0000-4000-8000-000000000002', 'programming-basics', 'Programming basics', 'Variables, conditionals and loops.', 1),
    ('52000000-0000-4000-8000-000000000022', '51000000-0000-4000-8000-000000000002', 'searching', 'Searching', 'Finding an item in a list, slowly and quickly.', 2),
    ('52000000-0000-4000-8000-000000000031', '51000000-0000-4000-8000-000000000003', 'the-cell', 'The cell', 'The smallest unit of life and its parts.', 1),
    ('52000000-0000-4000-8000-000000000032', '51000000-0000-4000-8000-000000000003', 'photosynthesis', 'Photosynthesis', 'How plants make sugar from light, water and air.', 2);

INSERT INTO lessons (id, topic_id, slug, title, estimated_minutes, position, body_markdown) VALUES
('53000000-0000-4000-8000-000000000111', '52000000-0000-4000-8000-000000000011', 'what-is-an-equation', 'What is an equation?', 5, 1, $md$
# What is an equation?

An **equation** says that two expressions are equal: `3 + x = 7`.
The letter `x` is an **unknown**; *solving* the equation means finding the value that makes
both sides equal. Here `x = 4`, because `3 + 4 = 7`.

Think of a balance scale: whatever you do to one side, you must do to the other to keep it level.

**Check yourself:** is `x = 5` a solution of `2x = 10`? (Yes: `2 × 5 = 10`.)
$md$),
('53000000-0000-4000-8000-000000000112', '52000000-0000-4000-8000-000000000011', 'one-and-two-step-equations', 'Solving one- and two-step equations', 8, 2, $md$
# Solving one- and two-step equations

Undo the operations around `x`, in reverse order, doing the same thing to both sides.

- One step: `x + 9 = 15` → subtract 9 from both sides → `x = 6`.
- One step: `4x = 28` → divide both sides by 4 → `x = 7`.
- Two steps: `3x + 5 = 20` → subtract 5 → `3x = 15` → divide by 3 → `x = 5`.

Always **check** by substituting back: `3 × 5 + 5 = 20`. ✓
$md$),
('53000000-0000-4000-8000-000000000113', '52000000-0000-4000-8000-000000000011', 'variables-on-both-sides', 'Variables on both sides', 8, 3, $md$
# Variables on both sides

When `x` appears on both sides, first gather the `x` terms on one side.

`5x - 3 = 2x + 9`

1. Subtract `2x` from both sides: `3x - 3 = 9`.
2. Add 3 to both sides: `3x = 12`.
3. Divide by 3: `x = 4`.

Check: `5 × 4 - 3 = 17` and `2 × 4 + 9 = 17`. ✓

If the `x` terms cancel and what is left is false (`0 = 5`), there is **no solution**; if it is
true (`0 = 0`), **every** number is a solution.
$md$),
('53000000-0000-4000-8000-000000000121', '52000000-0000-4000-8000-000000000012', 'right-triangles', 'Right triangles and the theorem', 6, 1, $md$
# Right triangles and the theorem

A **right triangle** has one 90° angle. The side opposite it is the **hypotenuse**, `c`, the
longest side; the other two are the **legs**, `a` and `b`.

The Pythagorean theorem: **a² + b² = c²**.

Example: legs 3 and 4 give `9 + 16 = 25`, so `c = √25 = 5`. The triple (3, 4, 5) is the best
known; (5, 12, 13) and (8, 15, 17) are others.

It only holds for right triangles, and it works both ways: if `a² + b² = c²`, the triangle has a
right angle.
$md$),
('53000000-0000-4000-8000-000000000122', '52000000-0000-4000-8000-000000000012', 'finding-a-missing-side', 'Finding a missing side', 7, 2, $md$
# Finding a missing side

**Missing hypotenuse:** add the squares of the legs, then take the square root.
Legs 6 and 8: `36 + 64 = 100`, `c = 10`.

**Missing leg:** subtract the square of the known leg from the square of the hypotenuse.
Hypotenuse 13, leg 5: `169 - 25 = 144`, `b = 12`.

A ladder 5 m long leans on a wall with its foot 3 m from the wall: it reaches
`√(25 - 9) = 4` m up the wall.
$md$),
('53000000-0000-4000-8000-000000000211', '52000000-0000-4000-8000-000000000021', 'variables-and-types', 'Variables and types', 6, 1, $md$
# Variables and types

A **variable** is a name for a value the program keeps: `score = 10`.
Assigning again replaces the value: `score = score + 5` makes it 15.

Every value has a **type** that says what you can do with it:

| type | examples | typical operations |
|---|---|---|
| integer | `42`, `-7` | `+ - * /` |
| floating point | `3.14` | arithmetic, rounding |
| string | `"hello"` | joining, length |
| boolean | `true`, `false` | `and`, `or`, `not` |

Mixing types carelessly is a common bug: `"3" + 4` is an error in some languages and `"34"` in others.
$md$),
('53000000-0000-4000-8000-000000000212', '52000000-0000-4000-8000-000000000021', 'conditionals', 'Making decisions with conditionals', 6, 2, $md$
# Making decisions with conditionals

A **conditional** runs code only when a condition is true.

```python
if temperature > 30:
    print("Hot")
elif temperature > 15:
    print("Mild")
else:
    print("Cold")
```

Conditions are checked top to bottom and only the **first** true branch runs. Conditions are
boolean expressions built with comparisons (`==`, `!=`, `<`, `>=`) and `and` / `or` / `not`.
$md$),
('53000000-0000-4000-8000-000000000213', '52000000-0000-4000-8000-000000000021', 'loops', 'Repeating with loops', 7, 3, $md$
# Repeating with loops

A **loop** repeats a block of code.

```python
total = 0
for n in [3, 5, 8]:
    total = total + n
print(total)  # 16
```

A `for` loop runs once per item; a `while` loop runs as long as its condition stays true:

```python
count = 3
while count > 0:
    print(count)
    count = count - 1
```

Make sure something in a `while` loop changes its condition, or it never stops.
$md$),
('53000000-0000-4000-8000-000000000221', '52000000-0000-4000-8000-000000000022', 'linear-search', 'Linear search', 5, 1, $md$
# Linear search

To find an item in a list, look at each element in turn until you find it or run out.

```python
def find(items, target):
    for i, item in enumerate(items):
        if item == target:
            return i
    return -1
```

It works on any list, sorted or not. In the worst case it looks at all `n` elements: its cost
grows **linearly**, written O(n). A list of a million names may take a million comparisons.
$md$),
('53000000-0000-4000-8000-000000000222', '52000000-0000-4000-8000-000000000022', 'binary-search', 'Binary search', 8, 2, $md$
# Binary search

On a **sorted** list you can do much better: compare with the middle element and throw away
the half that cannot contain the target.

```python
def find(items, target):
    low, high = 0, len(items) - 1
    while low <= high:
        mid = (low + high) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            low = mid + 1
        else:
            high = mid - 1
    return -1
```

Each step halves what is left, so a million sorted names need at most about 20 comparisons:
O(log n). The price is keeping the list sorted.
$md$),
('53000000-0000-4000-8000-000000000311', '52000000-0000-4000-8000-000000000031', 'cell-theory', 'Cell theory', 5, 1, $md$
# Cell theory

Cell theory has three statements:

1. All living things are made of one or more **cells**.
2. The cell is the basic unit of structure and function in living things.
3. All cells come from pre-existing cells, by division.

Bacteria are single cells without a nucleus (**prokaryotes**). Plants, animals and fungi are made
of cells with a nucleus (**eukaryotes**). Most cells are 1–100 micrometres across: you need a
microscope to see them, which is why cells were only discovered in the 17th century.
$md$),
('53000000-0000-4000-8000-000000000312', '52000000-0000-4000-8000-000000000031', 'organelles', 'Inside the cell: organelles', 7, 2, $md$
# Inside the cell: organelles

Eukaryotic cells contain **organelles**, each with a job:

- **Nucleus**: holds the DNA and controls the cell.
- **Mitochondria**: release energy from food (cellular respiration).
- **Ribosomes**: build proteins.
- **Cell membrane**: controls what enters and leaves.
- **Chloroplasts** (plants only): capture light for photosynthesis.
- **Cell wall** (plants, fungi): a rigid outer layer that gives support.

A quick way to tell a plant cell from an animal cell: look for a cell wall, chloroplasts and one
large vacuole.
$md$),
('53000000-0000-4000-8000-000000000321', '52000000-0000-4000-8000-000000000032', 'what-photosynthesis-does', 'What photosynthesis does', 5, 1, $md$
# What photosynthesis does

Plants make their own food. In the chloroplasts, the green pigment **chlorophyll** absorbs light
energy and uses it to turn carbon dioxide and water into glucose, releasing oxygen:

**6 CO₂ + 6 H₂O → C₆H₁₂O₆ + 6 O₂** (with light)

The glucose is used for energy and to build the plant; the oxygen is what animals breathe.
Almost every food chain on Earth starts here.
$md$),
('53000000-0000-4000-8000-000000000322', '52000000-0000-4000-8000-000000000032', 'rate-of-photosynthesis', 'What limits the rate', 6, 2, $md$
# What limits the rate

Three factors control how fast photosynthesis goes:

- **Light intensity**: more light, faster, up to a point.
- **Carbon dioxide concentration**: more CO₂, faster, up to a point.
- **Temperature**: enzymes work faster when warmer, but above about 40 °C they are damaged and
  the rate falls.

Whichever factor is in shortest supply is the **limiting factor**: raising the others does not
help. Greenhouses raise all three to grow crops faster.
$md$);
